/**
 * Helpers for the Realtime tests: a gateway with only the Realtime service (own limits) on a
 * fresh test database, real supabase-js clients acting as signed-in users, raw `ws` clients,
 * and waiting helpers that resolve on events (never on elapsed time).
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { loadConfig, type StackConfig } from '../config.ts';
import { startGateway, type Gateway } from '../gateway.ts';
import { signJwt } from '../jwt.ts';
import { createTestDatabase, type TestDatabase } from '../testing/index.ts';
import { createRealtimeService, type RealtimeOptions, type RealtimeService } from './index.ts';

export interface RealtimeTestStack {
	config: StackConfig;
	apiUrl: string;
	port: number;
	dbUrl: string;
	db: pg.Pool;
	service: RealtimeService;
	/** Stops the gateway only (the database stays), to restart it with `restart()`. */
	stopGateway(): Promise<void>;
	/** Starts a new gateway and service on the same port. */
	restart(): Promise<void>;
	stop(): Promise<void>;
}

/** Starts the gateway with the Realtime service on a fresh `platform` database. */
export async function startRealtimeStack(
	options: { realtime?: Partial<RealtimeOptions>; config?: Partial<StackConfig> } = {}
): Promise<RealtimeTestStack> {
	const database: TestDatabase = await createTestDatabase('platform');
	const config: StackConfig = { ...loadConfig(), ...options.config };
	const log = () => {};
	let service = createRealtimeService({ config, dbUrl: database.url, log }, options.realtime);
	let gateway: Gateway | null = await startGateway(
		config,
		{ realtime: service },
		{ port: 0, host: '127.0.0.1' }
	);
	const port = gateway.port;
	await service.ready();
	const db = new pg.Pool({ connectionString: database.url, max: 4 });
	const stack: RealtimeTestStack = {
		config,
		apiUrl: gateway.url,
		port,
		dbUrl: database.url,
		db,
		service,
		async stopGateway() {
			await gateway?.close();
			gateway = null;
		},
		async restart() {
			service = createRealtimeService({ config, dbUrl: database.url, log }, options.realtime);
			gateway = await startGateway(config, { realtime: service }, { port, host: '127.0.0.1' });
			stack.service = service;
			await service.ready();
		},
		async stop() {
			await gateway?.close();
			await db.end();
			await database.drop();
		}
	};
	return stack;
}

/** A user JWT as Supabase Auth would sign it. */
export async function userToken(
	config: StackConfig,
	sub: string,
	options: { expiresIn?: number; role?: string } = {}
): Promise<string> {
	const now = Math.floor(Date.now() / 1000);
	return signJwt(
		{
			sub,
			role: options.role ?? 'authenticated',
			aud: 'authenticated',
			iat: now,
			exp: now + (options.expiresIn ?? 3600)
		},
		config.jwtSecret
	);
}

/** A supabase-js client acting with `token` (a value or a getter; else anonymously), over `ws`. */
export function realtimeClient(
	stack: RealtimeTestStack,
	token?: string | (() => string),
	realtime: Record<string, unknown> = {}
): SupabaseClient {
	const current = typeof token === 'function' ? token : () => token as string;
	const client = createClient(stack.apiUrl, stack.config.anonKey, {
		...(token ? { accessToken: async () => current() } : {}),
		auth: token ? undefined : { persistSession: false, autoRefreshToken: false },
		realtime: { transport: WebSocket, ...realtime }
	} as Parameters<typeof createClient>[2]);
	// supabase-js fetches the token asynchronously, after a channel created right away has built its
	// join; the Supabase docs' `await supabase.realtime.setAuth()` before subscribing avoids that.
	// With a token given, setAuth stores it synchronously.
	if (token) void client.realtime.setAuth(current());
	return client;
}

/** Subscribes and resolves on SUBSCRIBED; rejects with the error of any other outcome. */
export function subscribed(channel: RealtimeChannel): Promise<RealtimeChannel> {
	return new Promise((resolve, reject) => {
		channel.subscribe((status, err) => {
			if (status === 'SUBSCRIBED') resolve(channel);
			else reject(err ?? new Error(status));
		});
	});
}

/** Resolves when `predicate` (which may query) holds, checking every few milliseconds. */
export async function until(
	predicate: () => boolean | Promise<boolean>,
	what = 'condition',
	limitMs = 10_000
): Promise<void> {
	const deadline = Date.now() + limitMs;
	while (!(await predicate())) {
		if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 5));
	}
}

/** A raw WebSocket client of the Realtime endpoint that records every frame it receives. */
export interface RawClient {
	ws: WebSocket;
	frames: unknown[];
	closed: Promise<number>;
	send(data: unknown): void;
	/** Resolves with the first received frame (parsed) matching `predicate`. */
	next(predicate: (frame: unknown) => boolean, what?: string): Promise<unknown>;
}

export async function rawClient(
	stack: RealtimeTestStack,
	vsn: '1.0.0' | '2.0.0' = '2.0.0',
	apikey = stack.config.anonKey
): Promise<RawClient> {
	const url = `${stack.apiUrl.replace('http', 'ws')}/realtime/v1/websocket?apikey=${apikey}&vsn=${vsn}`;
	const ws = new WebSocket(url);
	const frames: unknown[] = [];
	ws.on('message', (data, isBinary) => {
		frames.push(isBinary ? Buffer.from(data as Buffer) : JSON.parse(String(data)));
	});
	const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
	await new Promise<void>((resolve, reject) => {
		ws.once('open', () => resolve());
		ws.once('error', reject);
	});
	return {
		ws,
		frames,
		closed,
		send(data) {
			ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
		},
		async next(predicate, what = 'frame') {
			let found: unknown;
			await until(() => (found = frames.find(predicate)) !== undefined, what);
			return found;
		}
	};
}
