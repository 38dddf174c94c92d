/**
 * The parts of PostgreSQL's streaming replication protocol that database broadcasts need: the
 * walsender's CopyData frames (XLogData, keepalive), the standby status update we answer with,
 * and the pgoutput messages inside XLogData (protocol version 1: Begin, Relation, Insert, Update,
 * Delete, Truncate, Commit; every other message is recognised and skipped). Pure functions over
 * buffers, so they are tested without a server. See "Streaming Replication Protocol" and "Logical
 * Replication Message Formats" in the PostgreSQL documentation.
 */

/** A column value as pgoutput sends it: text, SQL null, or an unchanged TOASTed value. */
export type ColumnValue = string | null | { unchanged: true };

/** A relation as described by pgoutput's Relation message, cached by the receiver. */
export interface Relation {
	id: number;
	schema: string;
	name: string;
	columns: string[];
}

export type PgOutputMessage =
	| { type: 'begin'; finalLsn: bigint; xid: number }
	| { type: 'commit'; commitLsn: bigint; endLsn: bigint }
	| { type: 'relation'; relation: Relation }
	| { type: 'insert'; relationId: number; values: ColumnValue[] }
	/** `old` is the replica identity's columns (key or full row), when the server sent them. */
	| { type: 'update'; relationId: number; old: ColumnValue[] | null; values: ColumnValue[] }
	| { type: 'delete'; relationId: number; old: ColumnValue[] }
	| { type: 'truncate'; relationIds: number[] }
	| { type: 'other'; tag: string };

/** A CopyData frame from the walsender. */
export type ReplicationFrame =
	| { type: 'xlogdata'; start: bigint; walEnd: bigint; data: Buffer }
	| { type: 'keepalive'; walEnd: bigint; replyRequested: boolean }
	| { type: 'unknown'; tag: string };

/** Reads a CopyData frame of a replication stream. */
export function parseFrame(chunk: Buffer): ReplicationFrame {
	const tag = String.fromCharCode(chunk[0]);
	if (tag === 'w') {
		return {
			type: 'xlogdata',
			start: chunk.readBigUInt64BE(1),
			walEnd: chunk.readBigUInt64BE(9),
			data: chunk.subarray(25)
		};
	}
	if (tag === 'k')
		return { type: 'keepalive', walEnd: chunk.readBigUInt64BE(1), replyRequested: chunk[17] === 1 };
	return { type: 'unknown', tag };
}

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

/**
 * A standby status update: everything up to `lsn` received, flushed and applied, so the server
 * may recycle the WAL before it.
 */
export function standbyStatusUpdate(lsn: bigint, now = Date.now()): Buffer {
	const out = Buffer.alloc(34);
	out.write('r', 0, 'latin1');
	out.writeBigUInt64BE(lsn, 1);
	out.writeBigUInt64BE(lsn, 9);
	out.writeBigUInt64BE(lsn, 17);
	out.writeBigUInt64BE(BigInt(now) * 1000n - PG_EPOCH_MICROS, 25);
	out[33] = 0;
	return out;
}

/** A cursor over a pgoutput message. */
class Reader {
	#offset = 0;
	readonly buffer: Buffer;
	constructor(buffer: Buffer) {
		this.buffer = buffer;
	}

	byte(): number {
		return this.buffer[this.#offset++];
	}
	int16(): number {
		const v = this.buffer.readInt16BE(this.#offset);
		this.#offset += 2;
		return v;
	}
	int32(): number {
		const v = this.buffer.readInt32BE(this.#offset);
		this.#offset += 4;
		return v;
	}
	uint32(): number {
		const v = this.buffer.readUInt32BE(this.#offset);
		this.#offset += 4;
		return v;
	}
	int64(): bigint {
		const v = this.buffer.readBigUInt64BE(this.#offset);
		this.#offset += 8;
		return v;
	}
	cstring(): string {
		const end = this.buffer.indexOf(0, this.#offset);
		if (end < 0) throw new Error('pgoutput: unterminated string');
		const v = this.buffer.toString('utf8', this.#offset, end);
		this.#offset = end + 1;
		return v;
	}
	bytes(length: number): string {
		if (this.#offset + length > this.buffer.length) throw new Error('pgoutput: value past the end');
		const v = this.buffer.toString('utf8', this.#offset, this.#offset + length);
		this.#offset += length;
		return v;
	}
}

/** Reads pgoutput's TupleData: one value per column. */
function tupleData(r: Reader): ColumnValue[] {
	const count = r.int16();
	const values: ColumnValue[] = new Array(count);
	for (let i = 0; i < count; i++) {
		const kind = String.fromCharCode(r.byte());
		if (kind === 'n') values[i] = null;
		else if (kind === 'u') values[i] = { unchanged: true };
		else if (kind === 't' || kind === 'b') values[i] = r.bytes(r.int32());
		else throw new Error(`pgoutput: unknown column kind "${kind}"`);
	}
	return values;
}

/** Reads one pgoutput message (the data of an XLogData frame). */
export function parsePgOutput(data: Buffer): PgOutputMessage {
	const r = new Reader(data);
	const tag = String.fromCharCode(r.byte());
	switch (tag) {
		case 'B': {
			const finalLsn = r.int64();
			r.int64(); // commit timestamp
			return { type: 'begin', finalLsn, xid: r.uint32() };
		}
		case 'C': {
			r.byte(); // flags
			const commitLsn = r.int64();
			return { type: 'commit', commitLsn, endLsn: r.int64() };
		}
		case 'R': {
			const id = r.uint32();
			const schema = r.cstring() || 'pg_catalog';
			const name = r.cstring();
			r.byte(); // replica identity
			const count = r.int16();
			const columns: string[] = [];
			for (let i = 0; i < count; i++) {
				r.byte(); // flags (part of the key)
				columns.push(r.cstring());
				r.int32(); // type oid
				r.int32(); // type modifier
			}
			return { type: 'relation', relation: { id, schema, name, columns } };
		}
		case 'I': {
			const relationId = r.uint32();
			const marker = String.fromCharCode(r.byte());
			if (marker !== 'N') throw new Error(`pgoutput: insert without a new tuple ("${marker}")`);
			return { type: 'insert', relationId, values: tupleData(r) };
		}
		case 'U': {
			const relationId = r.uint32();
			let marker = String.fromCharCode(r.byte());
			let old: ColumnValue[] | null = null;
			if (marker === 'K' || marker === 'O') {
				old = tupleData(r);
				marker = String.fromCharCode(r.byte());
			}
			if (marker !== 'N') throw new Error(`pgoutput: update without a new tuple ("${marker}")`);
			return { type: 'update', relationId, old, values: tupleData(r) };
		}
		case 'D': {
			const relationId = r.uint32();
			const marker = String.fromCharCode(r.byte());
			if (marker !== 'K' && marker !== 'O')
				throw new Error(`pgoutput: delete without an old tuple ("${marker}")`);
			return { type: 'delete', relationId, old: tupleData(r) };
		}
		case 'T': {
			const count = r.uint32();
			r.byte(); // options (cascade, restart identity)
			const relationIds: number[] = [];
			for (let i = 0; i < count; i++) relationIds.push(r.uint32());
			return { type: 'truncate', relationIds };
		}
		default:
			return { type: 'other', tag };
	}
}

/** An inserted row as a record of column name to text value (unchanged TOAST values left out). */
export function rowOf(relation: Relation, values: ColumnValue[]): Record<string, string | null> {
	const row: Record<string, string | null> = {};
	relation.columns.forEach((column, i) => {
		const v = values[i];
		if (v === undefined || (v !== null && typeof v === 'object')) return;
		row[column] = v;
	});
	return row;
}

/** Reads a textual LSN such as `0/16B3748`. */
export function parseLsn(text: string): bigint {
	const [high, low] = text.split('/');
	if (low === undefined) throw new Error(`not an LSN: ${text}`);
	return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}
