/**
 * One WebSocket client: Phoenix's socket and channel protocol with Supabase Realtime's checks and
 * error messages. The socket owns its frames (decoding, replies, `system` messages), its event
 * budget, its channels by topic, and joining and leaving them; what a joined channel may do and
 * what a client sends on it are channel-access.ts, token-refresh.ts and channel-messages.ts.
 * Every frame is handled in isolation: a bad frame gets an answer on this socket and never
 * affects others.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { Permissions } from './authorization.ts';
import { applyRecheck, checkRead, EVERYTHING, readsNothing } from './channel-access.ts';
import { binaryBroadcast, jsonBroadcast, presence } from './channel-messages.ts';
import type { ChannelHost, ConnectionContext } from './connection-context.ts';
import { topicKey, type Channel, type ChannelSocket } from './hub.ts';
import { accessTokenOf, decodeJoin } from './join-payload.ts';
import {
	decodeBinary,
	decodeText,
	encodeText,
	ProtocolError,
	type BinaryPush,
	type Frame,
	type FrameRef,
	type Vsn
} from './protocol.ts';
import { checkToken } from './tokens.ts';
import { refreshToken, scheduleTokenCheck, stopTokenCheck } from './token-refresh.ts';

const POSTGRES_CHANGES_UNSUPPORTED =
	'postgres_changes is not supported by the embedded stack: no events will be delivered for it. ' +
	'Broadcast from the database instead (realtime.send / realtime.broadcast_changes).';

/** Small stable number for a postgres_changes binding, as Supabase answers one per binding. */
function bindingId(binding: unknown): number {
	let h = 0;
	for (const c of JSON.stringify(binding)) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
	return h % 100_000_000;
}

export class Connection implements ChannelSocket, ChannelHost {
	readonly vsn: Vsn;
	readonly ws: WebSocket;
	/** The token the socket connected with (the apikey's JWT): joins without `access_token` use it. */
	readonly token: string;
	readonly ctx: ConnectionContext;
	/** When the last frame arrived (the heartbeat sweeper drops silent sockets). */
	lastSeen = Date.now();
	#channels = new Map<string, Channel>();
	/** Topic → join_ref of joins waiting on their authorization check. */
	#joining = new Map<string, string | null>();
	#window = { start: 0, count: 0 };
	#closed = false;

	constructor(ws: WebSocket, vsn: Vsn, token: string, ctx: ConnectionContext) {
		this.ws = ws;
		this.vsn = vsn;
		this.token = token;
		this.ctx = ctx;
		ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
		ws.on('close', () => this.dispose());
		ws.on('error', () => this.dispose());
	}

	get channelCount(): number {
		return this.#channels.size;
	}

	send(data: string | Buffer): void {
		if (this.ws.readyState !== WebSocket.OPEN) return;
		if (this.ws.bufferedAmount > this.ctx.options.maxBufferedBytes) {
			// A reader this far behind would only grow server memory: drop it, it will reconnect.
			this.ctx.log('dropping a socket that is not reading its messages');
			this.ws.terminate();
			return;
		}
		this.ws.send(data);
	}

	#push(frame: Frame): void {
		this.send(encodeText(this.vsn, frame));
	}

	reply(frame: FrameRef, status: 'ok' | 'error', response: unknown = {}): void {
		this.#push({
			joinRef: frame.joinRef,
			ref: frame.ref,
			topic: frame.topic,
			event: 'phx_reply',
			payload: { status, response }
		});
	}

	system(channel: Channel, status: 'ok' | 'error', message: string, extension = 'system'): void {
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
		stopTokenCheck(channel);
		this.ctx.hub.remove(channel);
	}

	/** Leaves `channel` and tells the client, with `phx_close` on the channel's join_ref. */
	#close(channel: Channel): void {
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

	shutdown(channel: Channel, message: string): void {
		if (channel.closed) return;
		this.system(channel, 'error', message);
		this.#close(channel);
	}

	/** Counts a client event; false once this second's budget is spent. */
	#spend(): boolean {
		const now = Date.now();
		if (now - this.#window.start >= 1000) this.#window = { start: now, count: 0 };
		return ++this.#window.count <= this.ctx.options.maxEventsPerSecond;
	}

	/** The channel a push is for, or null after answering that there is none. */
	#channelOf(frame: FrameRef): Channel | null {
		const channel = this.#channels.get(frame.topic);
		if (channel && (frame.joinRef === null || frame.joinRef === channel.joinRef)) return channel;
		this.reply(frame, 'error', { reason: 'unmatched topic' });
		return null;
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
		const done = binary ? this.#onBinary(binary) : this.#onFrame(frame!);
		if (done instanceof Promise) {
			done.catch((error: Error) =>
				this.ctx.log(`unexpected error handling a message: ${error.stack ?? error}`)
			);
		}
	}

	#onBinary(push: BinaryPush): void | Promise<void> {
		const channel = this.#channelOf(push);
		if (!channel) return;
		if (!this.#spend()) return this.shutdown(channel, 'Too many messages per second');
		return binaryBroadcast(this, channel, push);
	}

	#onFrame(frame: Frame): void | Promise<void> {
		if (frame.topic === 'phoenix') {
			if (frame.event === 'heartbeat') return this.reply(frame, 'ok');
			return this.reply(frame, 'error', { reason: 'unmatched topic' });
		}
		if (frame.event === 'phx_join') return this.#join(frame);
		if (frame.event === 'phx_leave') {
			if (this.#joining.has(frame.topic)) this.#joining.delete(frame.topic);
			const channel = this.#channels.get(frame.topic);
			if (channel) {
				this.#channels.delete(channel.topic);
				this.#drop(channel);
			}
			return this.reply(frame, 'ok');
		}
		const channel = this.#channelOf(frame);
		if (!channel) return;
		if (frame.event === 'access_token') return refreshToken(this, channel, accessTokenOf(frame.payload));
		if (!this.#spend()) return this.shutdown(channel, 'Too many messages per second');
		switch (frame.event) {
			case 'broadcast':
				return jsonBroadcast(this, channel, frame);
			case 'presence':
				return presence(this, channel, frame);
			default:
				return this.reply(frame, 'error', {
					reason: `Unexpected message from client of type \`${frame.event}\``
				});
		}
	}

	async #join(frame: Frame): Promise<void> {
		const { topic } = frame;
		const { config, accessToken } = decodeJoin(frame.payload);
		const fail = (reason: string) => this.reply(frame, 'error', { reason });
		if (!topic.startsWith('realtime:')) return fail('unmatched topic');
		const name = topic.slice('realtime:'.length);
		if (!name) return fail('TopicNameRequired: You must provide a topic name');

		const existing = this.#channels.get(topic);
		if (existing) {
			if (existing.joinRef === frame.joinRef) return fail('already joined');
			// A rejoin with a new join_ref replaces the old channel (Phoenix closes the old one).
			this.#close(existing);
		}
		const isPrivate = config.private;
		if (this.ctx.privateOnly && !isPrivate)
			return fail('PrivateOnly: This project only allows private channels');
		if (this.#channels.size + this.#joining.size >= this.ctx.options.maxChannelsPerClient) {
			return fail('ChannelRateLimitReached: Too many channels');
		}
		const token = accessToken ?? this.token;

		this.#joining.set(topic, frame.joinRef);
		const superseded = () => this.#closed || this.#joining.get(topic) !== frame.joinRef;
		const checked = await checkToken(token, this.ctx.jwtSecret);
		if (superseded()) return;
		if (!checked.ok) {
			this.#joining.delete(topic);
			return fail(`${checked.code}: ${checked.message}`);
		}
		let read: Permissions = EVERYTHING;
		const version = this.ctx.authorizationVersion?.();
		if (isPrivate) {
			read = await checkRead(this.ctx, name, checked.claims);
			if (superseded()) return;
			if (readsNothing(read)) {
				this.#joining.delete(topic);
				return fail(`Unauthorized: You do not have permissions to read from this Channel topic: ${name}`);
			}
		}
		this.#joining.delete(topic);

		const channel: Channel = {
			socket: this,
			topic,
			name,
			key: topicKey(name, isPrivate),
			joinRef: frame.joinRef,
			private: isPrivate,
			self: config.broadcast.self,
			ack: config.broadcast.ack,
			presenceKey: config.presence.key ?? randomUUID(),
			presenceEnabled: config.presence.enabled,
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
		this.ctx.hub.add(channel);
		scheduleTokenCheck(this, channel);
		// A change committed while this join was being checked did not see the channel: check again.
		if (isPrivate && version !== this.ctx.authorizationVersion?.()) this.ctx.reauthorize?.(channel);

		const bindings = config.postgresChanges;
		// Echo the bindings with ids so realtime-js accepts the join; the system message below says
		// no change will ever arrive for them.
		this.reply(frame, 'ok', { postgres_changes: bindings.map((b) => ({ ...b, id: bindingId(b) })) });
		if (bindings.length > 0) this.system(channel, 'error', POSTGRES_CHANGES_UNSUPPORTED, 'postgres_changes');
		if (channel.presenceEnabled && (!isPrivate || read.presence)) {
			this.#push({
				joinRef: channel.joinRef,
				ref: null,
				topic,
				event: 'presence_state',
				payload: this.ctx.hub.presenceState(channel.key)
			});
		}
	}

	/** A re-check after a committed change (reauthorize.ts) found these permissions. */
	reauthorized(channel: Channel, read: Permissions, write: Permissions): void {
		if (channel.closed || this.#channels.get(channel.topic) !== channel) return;
		applyRecheck(this, channel, read, write);
	}
}
