/**
 * Changes that can revoke access, as a replication handler: when the database has a publication
 * named `realtime_authorization`, the values of its tables' changed rows in a committed
 * transaction (old key and new row), or 'all' after a truncate, are handed to `onChange` after
 * that transaction's broadcasts went out, and the open channels they can concern are authorized
 * again (reauthorize.ts). This is the embedded stack's own strictness; hosted Supabase re-checks
 * only on a new token.
 */
import { isMessages } from './db-broadcast.ts';
import type { ColumnValue } from './pgoutput.ts';
import type { ReplicationHandler } from './replication-stream.ts';

/** Tables whose committed changes make the stack re-check open private channels (optional). */
export const AUTHORIZATION_PUBLICATION = 'realtime_authorization';

/** What changed in the authorization publication's tables in one transaction. */
export type AuthorizationChange = Set<string> | 'all';

/** The handler that gathers each transaction's authorization changes for `onChange`. */
export function authorizationChanges(onChange: (change: AuthorizationChange) => void): ReplicationHandler {
	let changed: AuthorizationChange | null = null;

	function note(tuple: ColumnValue[] | null): void {
		if (!tuple || changed === 'all') return;
		changed ??= new Set();
		for (const v of tuple) if (typeof v === 'string') changed.add(v);
	}

	return {
		publication: AUTHORIZATION_PUBLICATION,
		optional: true,
		// The stream carries realtime.messages too: its rows are messages, no one's access.
		accepts: (relation) => !isMessages(relation),
		onBegin() {
			changed = null;
		},
		onChange(_relation, change) {
			switch (change.type) {
				case 'insert':
					return note(change.values);
				case 'update':
					note(change.values);
					return note(change.old);
				case 'delete':
					return note(change.old);
				case 'truncate':
					changed = 'all';
			}
		},
		onCommit() {
			const change = changed;
			changed = null;
			if (change) onChange(change);
		}
	};
}
