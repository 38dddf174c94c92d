/**
 * One WebSocket client: Phoenix's socket and channel protocol (join, leave, heartbeat, broadcast,
 * presence, access_token) with Supabase Realtime's checks and error messages. Every frame is
 * handled in isolation: a bad frame gets an answer on this socket and never affects others.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import WebSocket from 'ws';
import { readPermissions, writePermissions, type Permissions } from './authorization.ts';
import { topicKey, type Channel, type ChannelSocket, type Hub } from './hub.ts';
import type { RealtimeOptions } from './options.ts';
import {
	decodeBinary,
	decodeText,
	encodeText,
	ProtocolError,
	type BinaryPush,
	type Frame,
	type UserBroadcast,
	type Vsn
} from './protocol.ts';
import { checkToken, msUntilExpiry } from './tokens.ts';

/** What connections share: the hub, the database pool, settings. */
export interface ConnectionContext {
	hub: Hub;
	pool: pg.Pool;
	jwtSecret: string;
	privateOnly: boolean;
	options: RealtimeOptions;
	log: (message: string) => void;
	/** Counts committed changes that can revoke access (reauthorize.ts); absent: never re-checked. */
	authorizationVersion?: () => number;
	/** Checks `channel` again (it was authorized while such a change was committing). */
	reauthorize?: (channel: Channel) => void;
}

const POSTGRES_CHANGES_UNSUPPORTED =
	'postgres_changes is not supported by the embedded stack: no events will be delivered for it. ' +
	'Broadcast from the database instead (realtime.send / realtime.broadcast_changes).';

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Small stable number for a postgres_changes binding, as Supabase answers one per binding. */
function bindingId(binding: unknown): number {
	let h = 0;
	for (const c of JSON.stringify(binding)) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
	return h % 100_000_000;
}

export class Connection implements ChannelSocket {
	readonly vsn: Vsn;
	readonly ws: WebSocket;
	/** The token the socket connected with (the apikey's JWT): joins without `access_token` use it. */
	readonly token: string;
	/** When the last frame arrived (the heartbeat sweeper drops silent sockets). */
	lastSeen = Date.now();
	#ctx: ConnectionContext;
	#channels = new Map<string, Channel>();
	/** Topic → join_ref of joins waiting on their authorization check. */
	#joining = new Map<string, string | null>();
	#window = { start: 0, count: 0 };
	#closed = false;

	constructor(ws: WebSocket, vsn: Vsn, token: string, ctx: ConnectionContext) {
		this.ws = ws;
		this.vsn = vsn;
		this.token = token;
		this.#ctx = ctx;
		ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
		ws.on('close', () => this.dispose());
		ws.on('error', () => this.dispose());
	}

	get channelCount(): number {
		return this.#channels.size;
	}

	send(data: string | Buffer): void {
		if (this.ws.readyState !== WebSocket.OPEN) return;
		if (this.ws.bufferedAmount > this.#ctx.options.maxBufferedBytes) {
			// A reader this far behind would only grow server memory: drop it, it will reconnect.
			this.#ctx.log('dropping a socket that is not reading its messages');
			this.ws.terminate();
			return;
		}
		this.ws.send(data);
	}

	#push(frame: Frame): void {
		this.send(encodeText(this.vsn, frame));
	}

	#reply(
		frame: { joinRef: string | null; ref: string | null; topic: string },
		status: 'ok' | 'error',
		response: unknown = {}
	) {
		this.#push({
			joinRef: frame.joinRef,
			ref: frame.ref,
			topic: frame.topic,
			event: 'phx_reply',
			payload: { status, response }
		});
	}

	#system(channel: Channel, status: 'ok' | 'error', message: string, extension = 'system'): void {
		this.#push({
			joinRef: channel.joinRef,
			ref: null,
			topic: channel.topic,
			event: 'system',
			payload: { extension, status, message, channel: channel.name }
		});
	}

	/** Leaves every channel (presences leave at once) and forgets the socket. */
	dispose(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#joining.clear();
		for (const channel of this.#channels.values()) this.#drop(channel);
		this.#channels.clear();
	}

	#drop(channel: Channel): void {
		channel.closed = true;
		if (channel.tokenTimer) clearTimeout(channel.tokenTimer);
		channel.tokenTimer = null;
		this.#ctx.hub.remove(channel);
	}

	/** Closes `channel` from the server side: a `system` error, then `phx_close`, as Supabase does. */
	#shutdown(channel: Channel, message: string): void {
		if (channel.closed) return;
		this.#system(channel, 'error', message);
		this.#channels.delete(channel.topic);
		this.#drop(channel);
		this.#push({
			joinRef: channel.joinRef,
			ref: channel.joinRef,
			topic: channel.topic,
			event: 'phx_close',
			payload: {}
		});
	}

	/** Counts a client event; false once this second's budget is spent. */
	#spend(): boolean {
		const now = Date.now();
		if (now - this.#window.start >= 1000) this.#window = { start: now, count: 0 };
		return ++this.#window.count <= this.#ctx.options.maxEventsPerSecond;
	}

	#onMessage(data: Buffer, isBinary: boolean): void {
		this.lastSeen = Date.now();
		if (this.#closed) return;
		let frame: Frame | null = null;
		let binary: BinaryPush | null = null;
		try {
			if (isBinary) {
				if (this.vsn !== '2.0.0') throw new ProtocolError('binary frames need vsn=2.0.0');
				binary = decodeBinary(data);
			} else {
				frame = decodeText(this.vsn, data.toString('utf8'));
			}
		} catch (error) {
			const message = error instanceof ProtocolError ? error.message : 'unreadable frame';
			// No ref to answer to: a `system` error on the socket's own topic.
			this.#push({
				joinRef: null,
				ref: null,
				topic: 'phoenix',
				event: 'system',
				payload: {
					extension: 'system',
					status: 'error',
					message: `Malformed message: ${message}`,
					channel: null
				}
			});
			return;
		}
		const done = binary ? this.#onBinaryBroadcast(binary) : this.#onFrame(frame!);
		if (done instanceof Promise) {
			done.catch((error: Error) =>
				this.#ctx.log(`unexpected error handling a message: ${error.stack ?? error}`)
			);
		}
	}

	#onFrame(frame: Frame): void | Promise<void> {
		if (frame.topic === 'phoenix') {
			if (frame.event === 'heartbeat') return this.#reply(frame, 'ok');
			return this.#reply(frame, 'error', { reason: 'unmatched topic' });
		}
		if (frame.event === 'phx_join') return this.#join(frame);
		const channel = this.#channels.get(frame.topic);
		if (frame.event === 'phx_leave') {
			if (this.#joining.has(frame.topic)) this.#joining.delete(frame.topic);
			if (channel) {
				this.#channels.delete(channel.topic);
				this.#drop(channel);
			}
			return this.#reply(frame, 'ok');
		}
		if (!channel || (frame.joinRef !== null && frame.joinRef !== channel.joinRef)) {
			return this.#reply(frame, 'error', { reason: 'unmatched topic' });
		}
		if (frame.event === 'access_token') return this.#refreshToken(channel, frame);
		if (!this.#spend()) return this.#shutdown(channel, 'Too many messages per second');
		switch (frame.event) {
			case 'broadcast':
				return this.#onJsonBroadcast(channel, frame);
			case 'presence':
				return this.#onPresence(channel, frame);
			default:
				return this.#reply(frame, 'error', {
					reason: `Unexpected message from client of type \`${frame.event}\``
				});
		}
	}

	async #join(frame: Frame): Promise<void> {
		const { topic } = frame;
		const payload = isObject(frame.payload) ? frame.payload : {};
		const config = isObject(payload.config) ? payload.config : {};
		const fail = (reason: string) => this.#reply(frame, 'error', { reason });
		if (!topic.startsWith('realtime:')) return fail('unmatched topic');
		const name = topic.slice('realtime:'.length);
		if (!name) return fail('TopicNameRequired: You must provide a topic name');

		const existing = this.#channels.get(topic);
		if (existing) {
			if (existing.joinRef === frame.joinRef) return fail('already joined');
			// A rejoin with a new join_ref replaces the old channel (Phoenix closes the old one).
			this.#channels.delete(topic);
			this.#drop(existing);
			this.#push({
				joinRef: existing.joinRef,
				ref: existing.joinRef,
				topic,
				event: 'phx_close',
				payload: {}
			});
		}
		const isPrivate = config.private === true;
		if (this.#ctx.privateOnly && !isPrivate)
			return fail('PrivateOnly: This project only allows private channels');
		if (this.#channels.size + this.#joining.size >= this.#ctx.options.maxChannelsPerClient) {
			return fail('ChannelRateLimitReached: Too many channels');
		}
		const offered = payload.access_token;
		const token = typeof offered === 'string' && offered && !offered.startsWith('sb_') ? offered : this.token;

		this.#joining.set(topic, frame.joinRef);
		const superseded = () => this.#closed || this.#joining.get(topic) !== frame.joinRef;
		const checked = await checkToken(token, this.#ctx.jwtSecret);
		if (superseded()) return;
		if (!checked.ok) {
			this.#joining.delete(topic);
			return fail(`${checked.code}: ${checked.message}`);
		}
		let read: Permissions = { broadcast: true, presence: true };
		const version = this.#ctx.authorizationVersion?.();
		if (isPrivate) {
			try {
				read = await readPermissions(this.#ctx.pool, name, checked.claims);
			} catch (error) {
				this.#ctx.log(`RlsPolicyError on ${name}: ${(error as Error).message}`);
				read = { broadcast: false, presence: false };
			}
			if (superseded()) return;
			if (!read.broadcast && !read.presence) {
				this.#joining.delete(topic);
				return fail(`Unauthorized: You do not have permissions to read from this Channel topic: ${name}`);
			}
		}
		this.#joining.delete(topic);

		const broadcast = isObject(config.broadcast) ? config.broadcast : {};
		const presence = isObject(config.presence) ? config.presence : {};
		const presenceKey = typeof presence.key === 'string' && presence.key ? presence.key : randomUUID();
		const channel: Channel = {
			socket: this,
			topic,
			name,
			key: topicKey(name, isPrivate),
			joinRef: frame.joinRef,
			private: isPrivate,
			self: broadcast.self === true,
			ack: broadcast.ack === true,
			presenceKey,
			presenceEnabled: presence.enabled === true,
			token,
			claims: checked.claims,
			read,
			write: null,
			writeCheck: null,
			tokenTimer: null,
			presenceWindow: { count: 0, resetAt: 0 },
			closed: false
		};
		this.#channels.set(topic, channel);
		this.#ctx.hub.add(channel);
		this.#scheduleTokenCheck(channel);
		// A change committed while this join was being checked did not see the channel: check again.
		if (isPrivate && version !== this.#ctx.authorizationVersion?.()) this.#ctx.reauthorize?.(channel);

		const bindings = Array.isArray(config.postgres_changes) ? config.postgres_changes.filter(isObject) : [];
		// Echo the bindings with ids so realtime-js accepts the join; the system message below says
		// no change will ever arrive for them.
		this.#reply(frame, 'ok', { postgres_changes: bindings.map((b) => ({ ...b, id: bindingId(b) })) });
		if (bindings.length > 0) this.#system(channel, 'error', POSTGRES_CHANGES_UNSUPPORTED, 'postgres_changes');
		if (channel.presenceEnabled && (!isPrivate || read.presence)) {
			this.#push({
				joinRef: channel.joinRef,
				ref: null,
				topic,
				event: 'presence_state',
				payload: this.#ctx.hub.presenceState(channel.key)
			});
		}
	}

	/**
	 * The outcome of a re-check after a committed change (reauthorize.ts): a channel that can no
	 * longer read what it could is closed as a refused token refresh is; one that can no longer
	 * write stops being able to, and its presence leaves at once.
	 */
	reauthorized(channel: Channel, read: Permissions, write: Permissions): void {
		if (channel.closed || this.#channels.get(channel.topic) !== channel) return;
		if (!this.#keepReading(channel, channel.read, read)) return;
		channel.write = write;
		channel.writeCheck = null;
		if (!write.presence) this.#ctx.hub.untrack(channel);
	}

	/**
	 * Narrows a private channel to what it may read now; a channel that lost anything it could read
	 * is closed instead (false), as Supabase closes one whose refreshed token no longer reads it.
	 */
	#keepReading(channel: Channel, previous: Permissions, read: Permissions): boolean {
		if ((previous.broadcast && !read.broadcast) || (previous.presence && !read.presence)) {
			this.#shutdown(
				channel,
				`You no longer have permission to read from this Channel topic: ${channel.name}`
			);
			return false;
		}
		channel.read = read;
		return true;
	}

	/** Re-checks the channel's token when it expires (or every `tokenRecheckMs`). */
	#scheduleTokenCheck(channel: Channel): void {
		if (channel.tokenTimer) clearTimeout(channel.tokenTimer);
		const wait = Math.max(0, Math.min(this.#ctx.options.tokenRecheckMs, msUntilExpiry(channel.claims)));
		channel.tokenTimer = setTimeout(async () => {
			channel.tokenTimer = null;
			const checked = await checkToken(channel.token, this.#ctx.jwtSecret);
			if (channel.closed) return;
			if (!checked.ok) return this.#shutdown(channel, checked.message);
			this.#scheduleTokenCheck(channel);
		}, wait + 50);
		channel.tokenTimer.unref();
	}

	async #refreshToken(channel: Channel, frame: Frame): Promise<void> {
		const offered = isObject(frame.payload) ? frame.payload.access_token : undefined;
		if (typeof offered !== 'string' || !offered || offered.startsWith('sb_') || offered === channel.token)
			return;
		const checked = await checkToken(offered, this.#ctx.jwtSecret);
		if (channel.closed) return;
		if (!checked.ok) return this.#shutdown(channel, checked.message);
		const previous = channel.read;
		channel.token = offered;
		channel.claims = checked.claims;
		channel.write = null;
		channel.writeCheck = null;
		if (channel.private) {
			let read: Permissions;
			try {
				read = await readPermissions(this.#ctx.pool, channel.name, checked.claims);
			} catch {
				read = { broadcast: false, presence: false };
			}
			if (channel.closed) return;
			if (!read.broadcast && !read.presence) {
				return this.#shutdown(
					channel,
					`You do not have permissions to read from this Channel topic: ${channel.name}`
				);
			}
			if (!this.#keepReading(channel, previous, read)) return;
		}
		this.#scheduleTokenCheck(channel);
	}

	/** Write permissions of a private channel, checked once per token. */
	async #writePermissions(channel: Channel): Promise<Permissions> {
		if (!channel.private) return { broadcast: true, presence: true };
		if (channel.write) return channel.write;
		channel.writeCheck ??= this.#checkWrite(channel)
			.catch((error: Error) => {
				this.#ctx.log(`RlsPolicyError on ${channel.name}: ${error.message}`);
				return { broadcast: false, presence: false };
			})
			.then((permissions) => {
				channel.write = permissions;
				channel.writeCheck = null;
				return permissions;
			});
		return channel.writeCheck;
	}

	/** The write check, run again when a change that can revoke access committed meanwhile. */
	async #checkWrite(channel: Channel): Promise<Permissions> {
		for (;;) {
			const version = this.#ctx.authorizationVersion?.();
			const permissions = await writePermissions(this.#ctx.pool, channel.name, channel.claims);
			if (version === this.#ctx.authorizationVersion?.()) return permissions;
		}
	}

	#onJsonBroadcast(channel: Channel, frame: Frame): void | Promise<void> {
		if (!isObject(frame.payload)) {
			return this.#reply(frame, 'error', { reason: 'broadcast payload must be an object' });
		}
		const size = Buffer.byteLength(JSON.stringify(frame.payload));
		return this.#broadcast(channel, frame, size, { kind: 'json', payload: frame.payload });
	}

	#onBinaryBroadcast(push: BinaryPush): void | Promise<void> {
		const channel = this.#channels.get(push.topic);
		const frame = { joinRef: push.joinRef, ref: push.ref, topic: push.topic };
		if (!channel || (push.joinRef !== null && push.joinRef !== channel.joinRef)) {
			return this.#reply(frame, 'error', { reason: 'unmatched topic' });
		}
		if (!this.#spend()) return this.#shutdown(channel, 'Too many messages per second');
		const b: UserBroadcast = push.broadcast;
		return this.#broadcast(channel, frame, b.data.length, {
			kind: 'user',
			broadcast: { ...b, meta: undefined }
		});
	}

	async #broadcast(
		channel: Channel,
		frame: { joinRef: string | null; ref: string | null; topic: string },
		size: number,
		message: Parameters<Hub['broadcast']>[1]
	): Promise<void> {
		const permissions = channel.private ? (channel.write ?? (await this.#writePermissions(channel))) : null;
		if (channel.closed) return;
		if (permissions && !permissions.broadcast) {
			// Supabase drops it silently; an error reply also spares an `ack` sender its timeout.
			const reason = `Unauthorized: You do not have permissions to write to this Channel topic: ${channel.name}`;
			this.#reply(frame, 'error', { reason });
			this.#system(channel, 'error', reason);
			return;
		}
		if (size > this.#ctx.options.maxPayloadBytes) {
			this.#reply(frame, 'error', { reason: 'Payload size exceeded' });
			this.#system(channel, 'error', 'Payload size exceeded');
			return;
		}
		this.#ctx.hub.broadcast(channel.key, message, channel);
		if (channel.ack) this.#reply(frame, 'ok');
	}

	async #onPresence(channel: Channel, frame: Frame): Promise<void> {
		const payload = isObject(frame.payload) ? frame.payload : {};
		const event = typeof payload.event === 'string' ? payload.event.toLowerCase() : '';
		if (!event) return this.#reply(frame, 'ok');
		const now = Date.now();
		const w = channel.presenceWindow;
		if (now > w.resetAt) {
			w.count = 0;
			w.resetAt = now + this.#ctx.options.clientPresenceWindowMs;
		}
		if (++w.count > this.#ctx.options.maxClientPresenceEventsPerWindow) {
			return this.#shutdown(channel, 'Client presence rate limit exceeded');
		}
		if (event === 'untrack') {
			this.#ctx.hub.untrack(channel);
			return this.#reply(frame, 'ok');
		}
		if (event !== 'track') {
			return this.#reply(frame, 'error', { reason: `Unknown presence event: ${event}` });
		}
		const meta = payload.payload ?? {};
		if (!isObject(meta))
			return this.#reply(frame, 'error', { reason: 'Presence track payload must be a map' });
		if (channel.private) {
			const permissions = await this.#writePermissions(channel);
			if (channel.closed) return;
			if (!permissions.presence) {
				const reason = `Unauthorized: You do not have permissions to track presence on this Channel topic: ${channel.name}`;
				this.#reply(frame, 'error', { reason });
				this.#system(channel, 'error', reason);
				return;
			}
		}
		if (Buffer.byteLength(JSON.stringify(meta)) > this.#ctx.options.maxPayloadBytes) {
			return this.#shutdown(channel, 'Track message size exceeded');
		}
		channel.presenceEnabled = true;
		this.#ctx.hub.track(channel, meta);
		this.#reply(frame, 'ok');
	}
}
