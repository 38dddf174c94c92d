/**
 * Broadcast from the database, as a replication handler: rows committed into `realtime.messages`
 * (by `realtime.send()` or `realtime.broadcast_changes()`) go to the sockets joined to their
 * topic, read from the publication Supabase's Realtime reads them from (platform part 11). Rows
 * are held per transaction and fanned out at its commit, so a rolled-back one (an authorization
 * probe) never leaks. The stream is replication.ts's; old rows are the janitor's (janitor.ts).
 */
import type { Hub } from './hub.ts';
import { topicKey } from './hub.ts';
import { rowOf, type Relation } from './pgoutput.ts';
import type { ReplicationHandler } from './replication-stream.ts';

// Tests import the application name from here.
export { REPLICATION_APPLICATION_NAME } from './replication.ts';

/** The publication Supabase's Realtime reads broadcast rows from. */
export const PUBLICATION = 'supabase_realtime_messages_publication';

/** A row of realtime.messages as replicated: every value as text. */
type MessageRow = Record<string, string | null>;

/**
 * The payload as sent to clients: JSON text, with the message id added to an object payload that
 * has none, as Supabase's `realtime.send` does.
 */
export function withId(payload: string | null, id: string): string {
	if (payload === null) return JSON.stringify({ id });
	if (!payload.trimStart().startsWith('{')) return payload;
	const parsed = JSON.parse(payload) as Record<string, unknown>;
	return 'id' in parsed ? payload : JSON.stringify({ ...parsed, id });
}

/** Is this relation realtime.messages (or one of its partitions)? */
export function isMessages(relation: Relation): boolean {
	return relation.schema === 'realtime' && relation.name.startsWith('messages');
}

/** The handler that fans committed realtime.messages rows out through `hub`. */
export function databaseBroadcasts(hub: Hub, log: (message: string) => void): ReplicationHandler {
	// One array reused by every transaction: nothing is allocated per commit.
	const pending: MessageRow[] = [];

	function deliver(row: MessageRow): void {
		if (row.extension !== 'broadcast' || !row.event || !row.topic || !row.id) return;
		const key = topicKey(row.topic, row.private === 't');
		// Most rows go to topics nobody has joined (a user's inbox while they are offline):
		// skip them before any payload work.
		if (hub.subscribers(key) === 0) return;
		try {
			hub.broadcast(key, {
				kind: 'user',
				broadcast: {
					event: row.event,
					encoding: 'json',
					data: Buffer.from(withId(row.payload, row.id)),
					meta: { id: row.id }
				}
			});
		} catch (error) {
			log(`cannot deliver database message ${row.id}: ${(error as Error).message}`);
		}
	}

	return {
		publication: PUBLICATION,
		accepts: isMessages,
		onBegin() {
			pending.length = 0;
		},
		// Only inserts are messages: updates, deletes (the janitor) and truncates are no one's.
		onChange(relation, change) {
			if (change.type === 'insert') pending.push(rowOf(relation, change.values));
		},
		onCommit() {
			for (const row of pending) deliver(row);
			pending.length = 0;
		}
	};
}
