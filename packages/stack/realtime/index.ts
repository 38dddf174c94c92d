/**
 * The embedded stack's Realtime service (`/realtime/v1`): Supabase Realtime's WebSocket protocol
 * (Phoenix channels, vsn 1.0.0 and 2.0.0) for broadcast, presence and broadcast from the
 * database, with private channels authorized by RLS policies on `realtime.messages`; plus the
 * HTTP broadcast API. `postgres_changes` is not supported (joins get a clear `system` error).
 *
 * Modules: protocol (frames), connection (one socket), hub (topics, fan-out), presence,
 * authorization (RLS checks), replication (the logical replication session; replication-stream
 * routes its changes to handlers: db-broadcast, authorization-changes), janitor (old messages),
 * reauthorize (checks again after changes that can revoke access), http-api, tokens, options.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { WebSocketServer } from 'ws';
import type { Service } from '../gateway.ts';
import type { ServiceDeps } from '../services.ts';
import { Connection } from './connection.ts';
import type { ConnectionContext } from './connection-context.ts';
import { readPermissions, writePermissions } from './authorization.ts';
import { authorizationChanges } from './authorization-changes.ts';
import { databaseBroadcasts } from './db-broadcast.ts';
import { startJanitor, type Janitor } from './janitor.ts';
import { startReplication, type Replication } from './replication.ts';
import { createReauthorizer, type Reauthorizer } from './reauthorize.ts';
import { handleHttp } from './http-api.ts';
import { Hub } from './hub.ts';
import { DEFAULT_REALTIME_OPTIONS, type RealtimeOptions } from './options.ts';
import type { Vsn } from './protocol.ts';
import { checkToken } from './tokens.ts';

export type { RealtimeOptions } from './options.ts';

/** The Realtime service, with a few handles for tests and benchmarks. */
export interface RealtimeService extends Service {
	/** Open sockets right now. */
	connections(): number;
	/** Resolves once the database listener is connected. */
	ready(): Promise<void>;
	/** Runs the retention janitor now; returns rows deleted. */
	purge(): Promise<number>;
}

function rejectUpgrade(socket: Duplex, status: number, reason: string, message: string): void {
	const body = JSON.stringify({ error: message });
	socket.end(
		`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
	);
}

/**
 * Creates the Realtime service: the defaults, then the stack config's `realtime` section, then
 * `overrides` (limits and timeouts of tests and benchmarks).
 */
export function createRealtimeService(
	deps: ServiceDeps,
	overrides: Partial<RealtimeOptions> = {}
): RealtimeService {
	const options: RealtimeOptions = { ...DEFAULT_REALTIME_OPTIONS, ...deps.config.realtime, ...overrides };
	const log = (message: string) =>
		deps.log ? deps.log('realtime', message) : console.error(`[realtime] ${message}`);
	const hub = new Hub();
	let pool: pg.Pool | null = null;
	/** What reads and tends the database: the replication session and the janitor. */
	let db: { replication: Replication; janitor: Janitor } | null = null;
	let reauthorizer: Reauthorizer | null = null;
	const sockets = new Set<Connection>();
	let closed = false;

	// Started on first use, so a stack that never touches Realtime opens no connections for it.
	function start(): { pool: pg.Pool; db: { replication: Replication; janitor: Janitor } } {
		if (!pool) {
			pool = new pg.Pool({
				connectionString: deps.dbUrl,
				max: options.poolSize,
				application_name: 'parley_realtime'
			});
			pool.on('error', (error) => log(`pool error: ${error.message}`));
		}
		if (!db) {
			const checks = pool;
			// After a change that can revoke access, open channels are checked again (embedded only).
			const r = createReauthorizer({
				channels: () => hub.privateChannels(),
				read: (channel) => readPermissions(checks, channel.name, channel.claims),
				write: (channel) => writePermissions(checks, channel.name, channel.claims),
				apply: (channel, read, write) => channel.socket.reauthorized?.(channel, read, write),
				log
			});
			reauthorizer = r;
			// A commit's broadcasts go out before the channels its authorization changes concern are checked.
			const replication = startReplication({
				dbUrl: deps.dbUrl,
				handlers: [databaseBroadcasts(hub, log), authorizationChanges((change) => void r.changed(change))],
				reconnectMs: options.replicationReconnectMs,
				statusIntervalMs: options.replicationStatusMs,
				log
			});
			const janitor = startJanitor({
				dbUrl: deps.dbUrl,
				retentionMs: options.retentionMs,
				intervalMs: options.janitorIntervalMs,
				log
			});
			db = { replication, janitor };
		}
		return { pool, db };
	}

	const wss = new WebSocketServer({
		noServer: true,
		maxPayload: options.maxFrameBytes,
		perMessageDeflate: false,
		clientTracking: false
	});

	// One sweeper for all sockets instead of a timer per socket (idle sockets stay cheap).
	const sweeper = setInterval(
		() => {
			const limit = Date.now() - options.heartbeatTimeoutMs;
			for (const conn of sockets) if (conn.lastSeen < limit) conn.ws.terminate();
		},
		Math.max(50, Math.min(5000, options.heartbeatTimeoutMs / 4))
	);
	sweeper.unref();

	function contextFor(p: pg.Pool): ConnectionContext {
		return {
			hub,
			pool: p,
			jwtSecret: deps.config.jwtSecret,
			privateOnly: deps.config.realtime.privateOnly,
			options,
			log,
			authorizationVersion: () => reauthorizer?.version ?? 0,
			reauthorize: (channel) => void reauthorizer?.recheck(channel)
		};
	}

	return {
		async handle(req, res, ctx) {
			const { pool: p } = start();
			await handleHttp({ hub, pool: p, jwtSecret: deps.config.jwtSecret, options, log }, req, res, ctx);
		},

		upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx) {
			if (closed) return rejectUpgrade(socket, 503, 'Service Unavailable', 'Realtime is shutting down');
			const path = ctx.url.pathname.replace(/\/+$/, '');
			if (path !== '/websocket' && path !== '') {
				return rejectUpgrade(socket, 404, 'Not Found', 'no Route matched with those values');
			}
			const vsnParam = ctx.url.searchParams.get('vsn') ?? '1.0.0';
			if (vsnParam !== '1.0.0' && vsnParam !== '2.0.0') {
				return rejectUpgrade(socket, 400, 'Bad Request', `Unsupported serializer version: ${vsnParam}`);
			}
			const vsn: Vsn = vsnParam;
			void checkToken(ctx.token, deps.config.jwtSecret).then((checked) => {
				if (!checked.ok) {
					const message =
						checked.code === 'InvalidJWTToken' && checked.message.startsWith('Token has expired')
							? 'Token has expired'
							: checked.message;
					return rejectUpgrade(socket, 401, 'Unauthorized', message);
				}
				if (closed || socket.destroyed) return socket.destroy();
				const { pool: p } = start();
				wss.handleUpgrade(req, socket, head, (ws) => {
					const conn = new Connection(ws, vsn, ctx.token, contextFor(p));
					sockets.add(conn);
					ws.on('close', () => sockets.delete(conn));
					if (closed) ws.terminate();
				});
			});
		},

		connections: () => sockets.size,

		async ready() {
			await start().db.replication.ready;
		},

		purge: () => start().db.janitor.purge(),

		async close() {
			closed = true;
			clearInterval(sweeper);
			// Abrupt close, as when a server dies: clients reconnect and rejoin on their own.
			for (const conn of sockets) {
				conn.dispose();
				conn.ws.terminate();
			}
			sockets.clear();
			db?.janitor.stop();
			await db?.replication.close();
			await pool?.end().catch(() => {});
			wss.close();
		}
	};
}
