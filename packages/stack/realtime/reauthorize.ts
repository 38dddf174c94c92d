/**
 * Re-authorizing open private channels after a committed change that can revoke access (the
 * embedded stack's own strictness; docs/live-channels.md). Hosted Supabase Realtime checks a
 * channel at join and on a new token only; here, a change in a table of the database's
 * `realtime_authorization` publication makes the stack run the channel's read and write checks
 * again, at once, for the channels the change can concern:
 *
 * - a channel is concerned when its user (`sub`) or one of its topic's `:`-separated parts
 *   equals one of the changed row's values (a deleted participant row names the user and the
 *   conversation), or every private channel after a truncate;
 * - checks are shared by channels of the same topic and claims, run a few at a time, and a
 *   change that arrives during a pass is handled by the next one.
 *
 * What a refused channel is told (a `system` error, then `phx_close`) is up to the connection.
 */
import type { Permissions } from './authorization.ts';
import type { AuthorizationChange } from './authorization-changes.ts';
import type { Channel } from './hub.ts';

/** The checks a pass needs, and what to do with their outcome (the connection applies it). */
export interface ReauthorizeDeps {
	channels(): Iterable<Channel>;
	read(channel: Channel): Promise<Permissions>;
	write(channel: Channel): Promise<Permissions>;
	apply(channel: Channel, read: Permissions, write: Permissions): void;
	log(message: string): void;
	/** Checks running at once (each takes a pooled connection). */
	concurrency?: number;
}

/** Does a change with these values concern `channel`? */
export function concerns(channel: Channel, change: AuthorizationChange): boolean {
	if (!channel.private || channel.closed) return false;
	if (change === 'all') return true;
	if (channel.claims.sub && change.has(channel.claims.sub)) return true;
	return channel.name.split(':').some((part) => change.has(part));
}

export interface Reauthorizer {
	/** Queues the channels `change` concerns for a check; resolves when they have been checked. */
	changed(change: AuthorizationChange): Promise<void>;
	/** Queues one channel (joined while a change was being committed); resolves once checked. */
	recheck(channel: Channel): Promise<void>;
	/** How many changes have been seen: a check that began before the latest one may be stale. */
	readonly version: number;
}

export function createReauthorizer(deps: ReauthorizeDeps): Reauthorizer {
	const limit = deps.concurrency ?? 4;
	let queued = new Set<Channel>();
	let running: Promise<void> | null = null;

	async function pass(batch: Set<Channel>): Promise<void> {
		// Channels of one topic and one set of claims share the outcome of one pair of checks.
		// Each with the claims it had when checked: a channel whose token changed meanwhile was
		// checked again by its own refresh, and is left alone.
		const groups = new Map<string, [Channel, Channel['claims']][]>();
		for (const channel of batch) {
			if (channel.closed) continue;
			const key = `${channel.name}\n${JSON.stringify(channel.claims)}`;
			const group = groups.get(key);
			if (group) group.push([channel, channel.claims]);
			else groups.set(key, [[channel, channel.claims]]);
		}
		const work = [...groups.values()];
		const worker = async () => {
			for (let group = work.shift(); group; group = work.shift()) {
				const [[first]] = group;
				let read: Permissions;
				let write: Permissions;
				try {
					[read, write] = await Promise.all([deps.read(first), deps.write(first)]);
				} catch (error) {
					// A check that could not run (database down) refuses nothing: the join-time answer stands.
					deps.log(`re-authorizing ${first.name} failed: ${(error as Error).message}`);
					continue;
				}
				for (const [channel, claims] of group) {
					if (!channel.closed && channel.claims === claims) deps.apply(channel, read, write);
				}
			}
		};
		await Promise.all(Array.from({ length: Math.min(limit, work.length) }, worker));
	}

	function kick(): Promise<void> {
		running ??= (async () => {
			while (queued.size > 0) {
				const batch = queued;
				queued = new Set();
				await pass(batch);
			}
		})().finally(() => {
			running = null;
		});
		return running;
	}

	let version = 0;
	const settle = async () => {
		// Until the queued channels have been through a pass (a pass may be ending as they queue).
		while (running || queued.size > 0) await kick();
	};
	return {
		get version() {
			return version;
		},
		async changed(change) {
			version++;
			for (const channel of deps.channels()) if (concerns(channel, change)) queued.add(channel);
			await settle();
		},
		async recheck(channel) {
			queued.add(channel);
			await settle();
		}
	};
}
