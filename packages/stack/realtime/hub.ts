/**
 * The registry of joined channels by topic, and fan-out. Private and public joins of the same
 * name are separate spaces (as on Supabase): a message sent to the private topic never reaches
 * a public join and vice versa. Each message is encoded at most once per protocol version,
 * however many sockets receive it.
 */
import type { Claims } from '../jwt.ts';
import type { Permissions } from './authorization.ts';
import { TopicPresence, type PresenceDiff } from './presence.ts';
import { encodeText, encodeUserBroadcast, type UserBroadcast, type Vsn } from './protocol.ts';

/** What a channel needs from the socket it lives on. */
export interface ChannelSocket {
	readonly vsn: Vsn;
	send(data: string | Buffer): void;
	/** A re-check after a change (reauthorize.ts) found these permissions: keep, narrow or close the channel. */
	reauthorized?(channel: Channel, read: Permissions, write: Permissions): void;
}

/** One joined channel of one socket. */
export interface Channel {
	socket: ChannelSocket;
	/** `realtime:<name>` as joined. */
	topic: string;
	/** `<name>`, the topic policies and `realtime.topic()` see. */
	name: string;
	/** Registry key: privacy plus name. */
	key: string;
	joinRef: string | null;
	private: boolean;
	self: boolean;
	ack: boolean;
	presenceKey: string;
	presenceEnabled: boolean;
	token: string;
	claims: Claims & { exp: number; role: string };
	/** Read permissions (all true on public channels). */
	read: Permissions;
	/** Write permissions, null until first needed (private channels; cached until the token changes). */
	write: Permissions | null;
	writeCheck: Promise<Permissions> | null;
	tokenTimer: NodeJS.Timeout | null;
	presenceWindow: { count: number; resetAt: number };
	closed: boolean;
}

/** A broadcast on its way out: a user broadcast (payload kept encoded) or a JSON payload. */
export type Outgoing = { kind: 'user'; broadcast: UserBroadcast } | { kind: 'json'; payload: unknown };

/** Registry key of a topic name. */
export function topicKey(name: string, isPrivate: boolean): string {
	return `${isPrivate ? 'private' : 'public'}:${name}`;
}

export class Hub {
	#topics = new Map<string, Set<Channel>>();
	#presence = new Map<string, TopicPresence<Channel>>();

	add(channel: Channel): void {
		let set = this.#topics.get(channel.key);
		if (!set) this.#topics.set(channel.key, (set = new Set()));
		set.add(channel);
	}

	/** Removes `channel`; its presence leaves and everyone else is told. */
	remove(channel: Channel): void {
		const set = this.#topics.get(channel.key);
		if (set?.delete(channel) && set.size === 0) this.#topics.delete(channel.key);
		const presence = this.#presence.get(channel.key);
		const diff = presence?.untrack(channel);
		if (presence && presence.size === 0) this.#presence.delete(channel.key);
		if (diff) this.presenceDiff(channel.key, diff);
	}

	/** Every joined private channel. */
	*privateChannels(): Generator<Channel> {
		for (const [key, set] of this.#topics) if (key.startsWith('private:')) yield* set;
	}

	/** Number of channels joined to `key`. */
	subscribers(key: string): number {
		return this.#topics.get(key)?.size ?? 0;
	}

	/** Sends a broadcast to every channel of `key` allowed to read it (`from` only with `self`). */
	broadcast(key: string, message: Outgoing, from?: Channel): number {
		const set = this.#topics.get(key);
		if (!set) return 0;
		const cache = new Map<Vsn, string | Buffer | null>();
		let delivered = 0;
		for (const channel of set) {
			if (channel === from && !channel.self) continue;
			if (channel.private && !channel.read.broadcast) continue;
			const vsn = channel.socket.vsn;
			let data = cache.get(vsn);
			if (data === undefined) {
				data =
					message.kind === 'user'
						? encodeUserBroadcast(vsn, channel.topic, message.broadcast)
						: encodeText(vsn, {
								joinRef: null,
								ref: null,
								topic: channel.topic,
								event: 'broadcast',
								payload: message.payload
							});
				cache.set(vsn, data);
			}
			if (data === null) continue;
			channel.socket.send(data);
			delivered++;
		}
		return delivered;
	}

	/** Tracks `payload` for `channel` and tells the topic; false when nothing changed. */
	track(channel: Channel, payload: Record<string, unknown>): boolean {
		let presence = this.#presence.get(channel.key);
		if (!presence) this.#presence.set(channel.key, (presence = new TopicPresence()));
		const diff = presence.track(channel, channel.presenceKey, payload);
		if (diff) this.presenceDiff(channel.key, diff);
		return diff !== null;
	}

	untrack(channel: Channel): void {
		const presence = this.#presence.get(channel.key);
		const diff = presence?.untrack(channel);
		if (diff) this.presenceDiff(channel.key, diff);
	}

	presenceState(key: string): Record<string, unknown> {
		return this.#presence.get(key)?.state() ?? {};
	}

	presenceDiff(key: string, diff: PresenceDiff): void {
		const set = this.#topics.get(key);
		if (!set) return;
		// Sent like Phoenix's fastlane broadcasts: no join_ref, encoded once per protocol version.
		const cache = new Map<Vsn, string>();
		for (const channel of set) {
			if (channel.private && !channel.read.presence) continue;
			const vsn = channel.socket.vsn;
			let data = cache.get(vsn);
			if (data === undefined) {
				data = encodeText(vsn, {
					joinRef: null,
					ref: null,
					topic: channel.topic,
					event: 'presence_diff',
					payload: diff
				});
				cache.set(vsn, data);
			}
			channel.socket.send(data);
		}
	}
}
