/**
 * One logical replication session's stream, and what it hands on: the walsender's CopyData frames
 * (decoded by pgoutput.ts), the relation cache, routing each change to the handlers that take its
 * relation, telling them when a transaction begins and commits, and confirming the position back
 * to the server. It knows nothing of what the changes mean: that is the handlers' (database
 * broadcasts, authorization changes; `postgres_changes` would be one more). The session around it
 * (slot, connection, reconnecting) is replication.ts.
 */
import {
	parseFrame,
	parsePgOutput,
	standbyStatusUpdate,
	type PgOutputMessage,
	type Relation
} from './pgoutput.ts';

/** A row change as pgoutput sends it; a truncate is handed on once per relation it names. */
export type RowChange = Extract<PgOutputMessage, { type: 'insert' | 'update' | 'delete' | 'truncate' }>;

/**
 * What a replication handler is: the publication it reads, the relations it takes, and what it
 * does with their changes. The walsender sends each transaction whole, after it commits, in
 * commit order, never a rolled-back one: a handler buffers from `onBegin` and acts at `onCommit`.
 */
export interface ReplicationHandler {
	/** The publication whose tables' changes the handler needs. */
	readonly publication: string;
	/** Streamed only when it exists at connect time (START_REPLICATION fails on a missing one). */
	readonly optional?: boolean;
	/** Are changes of `relation` this handler's? Asked once per relation and session. */
	accepts(relation: Relation): boolean;
	onBegin(): void;
	/** A change of a relation the handler accepts (the message as decoded: no copy is made). */
	onChange(relation: Relation, change: RowChange): void;
	/** The transaction committed; handlers are told in the order they were given. */
	onCommit(): void;
}

/** What the stream uses of pg's connection while in CopyBoth mode. */
interface CopyConnection {
	query(text: string): void;
	sendCopyFromChunk(chunk: Buffer): void;
}

/** A relation as cached: its description and the handlers that take its changes. */
interface Route {
	relation: Relation;
	handlers: ReplicationHandler[];
}

/**
 * The stream of one START_REPLICATION, as a pg "submittable" query: pg hands it the CopyData
 * frames, and its end or error.
 */
export class ReplicationStream {
	#routes = new Map<number, Route>();
	#handlers: readonly ReplicationHandler[];
	#inTransaction = false;
	#lsn: bigint;
	#connection: CopyConnection | null = null;
	#timer: NodeJS.Timeout;
	readonly sql: string;
	readonly fail: (error: Error) => void;

	constructor(
		sql: string,
		startLsn: bigint,
		statusIntervalMs: number,
		handlers: readonly ReplicationHandler[],
		fail: (error: Error) => void
	) {
		this.sql = sql;
		this.fail = fail;
		this.#handlers = handlers;
		this.#lsn = startLsn;
		this.#timer = setInterval(() => this.#confirm(), statusIntervalMs);
		this.#timer.unref();
	}

	submit(connection: CopyConnection): void {
		this.#connection = connection;
		connection.query(this.sql);
	}

	handleCopyData(message: { chunk: Buffer }): void {
		try {
			const frame = parseFrame(message.chunk);
			if (frame.type === 'keepalive') {
				// Between transactions everything up to the server's position is processed: confirming
				// it lets the server recycle WAL written by tables outside the publications.
				if (!this.#inTransaction && frame.walEnd > this.#lsn) this.#lsn = frame.walEnd;
				if (frame.replyRequested) this.#confirm();
			} else if (frame.type === 'xlogdata') {
				this.#onMessage(parsePgOutput(frame.data));
			}
		} catch (error) {
			this.fail(error as Error);
		}
	}

	#onMessage(message: PgOutputMessage): void {
		switch (message.type) {
			case 'relation': {
				const { relation } = message;
				this.#routes.set(relation.id, {
					relation,
					handlers: this.#handlers.filter((h) => h.accepts(relation))
				});
				break;
			}
			case 'begin':
				this.#inTransaction = true;
				for (const handler of this.#handlers) handler.onBegin();
				break;
			case 'insert':
			case 'update':
			case 'delete':
				this.#route(message.relationId, message);
				break;
			case 'truncate':
				for (const id of message.relationIds) this.#route(id, message);
				break;
			case 'commit':
				this.#inTransaction = false;
				this.#lsn = message.endLsn;
				for (const handler of this.#handlers) handler.onCommit();
				break;
		}
	}

	/** Hands a change to the handlers of its relation (pgoutput describes it before its first change). */
	#route(relationId: number, change: RowChange): void {
		const route = this.#routes.get(relationId);
		if (!route) throw new Error(`change for unknown relation ${relationId}`);
		for (const handler of route.handlers) handler.onChange(route.relation, change);
	}

	#confirm(): void {
		this.#connection?.sendCopyFromChunk(standbyStatusUpdate(this.#lsn));
	}

	handleError(error: Error): void {
		this.stop();
		this.fail(error);
	}
	handleReadyForQuery(): void {
		this.stop();
		this.fail(new Error('replication stream ended'));
	}
	handleRowDescription(): void {}
	handleDataRow(): void {}
	handleCommandComplete(): void {}
	handleEmptyQuery(): void {}
	handleCopyInResponse(): void {}

	stop(): void {
		clearInterval(this.#timer);
	}
}
