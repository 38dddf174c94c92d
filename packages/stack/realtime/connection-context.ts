/**
 * What the parts of one socket's channel handling share: the context every connection gets (the
 * hub, the database pool, settings, the re-authorization hooks) and what a channel's handlers
 * need from the socket it lives on (replies, `system` messages, closing the channel). The socket
 * itself is connection.ts.
 */
import type pg from 'pg';
import type { Channel, Hub } from './hub.ts';
import type { RealtimeOptions } from './options.ts';
import type { FrameRef } from './protocol.ts';

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

/** What a channel's handlers (channel-access, token-refresh, channel-messages) use of its socket. */
export interface ChannelHost {
	readonly ctx: ConnectionContext;
	reply(frame: FrameRef, status: 'ok' | 'error', response?: unknown): void;
	system(channel: Channel, status: 'ok' | 'error', message: string, extension?: string): void;
	/** Closes `channel` from the server side: a `system` error, then `phx_close`, as Supabase does. */
	shutdown(channel: Channel, message: string): void;
}
