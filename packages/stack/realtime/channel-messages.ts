/**
 * What a client sends on a joined channel: broadcasts (JSON pushes, and vsn 2's binary ones) fanned
 * out through the hub, and presence `track` / `untrack`, each checked against the channel's write
 * permissions (channel-access.ts), Supabase's payload limits and its per-channel presence rate
 * limit. The socket-wide event budget and the routing to the channel are the connection's.
 */
import { channelWrite } from './channel-access.ts';
import type { ChannelHost } from './connection-context.ts';
import type { Channel, Outgoing } from './hub.ts';
import { isObject, type BinaryPush, type Frame, type FrameRef } from './protocol.ts';

/** Refuses a write the channel's permissions do not allow: an error reply and a `system` error. */
function refuse(host: ChannelHost, channel: Channel, frame: FrameRef, reason: string): void {
	host.reply(frame, 'error', { reason });
	host.system(channel, 'error', reason);
}

export function jsonBroadcast(host: ChannelHost, channel: Channel, frame: Frame): void | Promise<void> {
	if (!isObject(frame.payload)) {
		return host.reply(frame, 'error', { reason: 'broadcast payload must be an object' });
	}
	const size = Buffer.byteLength(JSON.stringify(frame.payload));
	return broadcast(host, channel, frame, size, { kind: 'json', payload: frame.payload });
}

export function binaryBroadcast(host: ChannelHost, channel: Channel, push: BinaryPush): Promise<void> {
	const frame = { joinRef: push.joinRef, ref: push.ref, topic: push.topic };
	return broadcast(host, channel, frame, push.broadcast.data.length, {
		kind: 'user',
		broadcast: { ...push.broadcast, meta: undefined }
	});
}

async function broadcast(
	host: ChannelHost,
	channel: Channel,
	frame: FrameRef,
	size: number,
	message: Outgoing
): Promise<void> {
	const { ctx } = host;
	const permissions = channel.private ? (channel.write ?? (await channelWrite(ctx, channel))) : null;
	if (channel.closed) return;
	if (permissions && !permissions.broadcast) {
		// Supabase drops it silently; an error reply also spares an `ack` sender its timeout.
		const reason = `Unauthorized: You do not have permissions to write to this Channel topic: ${channel.name}`;
		return refuse(host, channel, frame, reason);
	}
	if (size > ctx.options.maxPayloadBytes) return refuse(host, channel, frame, 'Payload size exceeded');
	ctx.hub.broadcast(channel.key, message, channel);
	if (channel.ack) host.reply(frame, 'ok');
}

export async function presence(host: ChannelHost, channel: Channel, frame: Frame): Promise<void> {
	const { ctx } = host;
	const payload = isObject(frame.payload) ? frame.payload : {};
	const event = typeof payload.event === 'string' ? payload.event.toLowerCase() : '';
	if (!event) return host.reply(frame, 'ok');
	const now = Date.now();
	const w = channel.presenceWindow;
	if (now > w.resetAt) {
		w.count = 0;
		w.resetAt = now + ctx.options.clientPresenceWindowMs;
	}
	if (++w.count > ctx.options.maxClientPresenceEventsPerWindow) {
		return host.shutdown(channel, 'Client presence rate limit exceeded');
	}
	if (event === 'untrack') {
		ctx.hub.untrack(channel);
		return host.reply(frame, 'ok');
	}
	if (event !== 'track') {
		return host.reply(frame, 'error', { reason: `Unknown presence event: ${event}` });
	}
	const meta = payload.payload ?? {};
	if (!isObject(meta)) return host.reply(frame, 'error', { reason: 'Presence track payload must be a map' });
	if (channel.private) {
		const permissions = await channelWrite(ctx, channel);
		if (channel.closed) return;
		if (!permissions.presence) {
			const reason = `Unauthorized: You do not have permissions to track presence on this Channel topic: ${channel.name}`;
			return refuse(host, channel, frame, reason);
		}
	}
	if (Buffer.byteLength(JSON.stringify(meta)) > ctx.options.maxPayloadBytes) {
		return host.shutdown(channel, 'Track message size exceeded');
	}
	channel.presenceEnabled = true;
	ctx.hub.track(channel, meta);
	host.reply(frame, 'ok');
}
