/**
 * The API gateway on port 54321, in the role Kong plays on Supabase: CORS, the `apikey` check,
 * and routing of `/auth/v1`, `/rest/v1`, `/realtime/v1` (HTTP and WebSocket) and `/storage/v1` to
 * their services.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { StackConfig } from './config.ts';
import { bearerToken, sendJson } from './http.ts';
import { looksLikeJwt } from './jwt.ts';

/** What the gateway learned about a request before handing it to a service. */
export interface GatewayContext {
	/** The role the apikey stands for. */
	apikeyRole: 'anon' | 'service_role';
	/** The apikey as sent. */
	apikey: string;
	/**
	 * The JWT the request acts with: its Bearer token when that is a JWT, else the legacy JWT of
	 * the apikey's role (as Supabase's gateway does for opaque `sb_` keys).
	 */
	token: string;
	/** Request URL with the service prefix removed from `pathname`. */
	url: URL;
}

/** The services the gateway mounts, each at `/<name>/v1`. */
export type ServiceName = 'auth' | 'rest' | 'realtime' | 'storage';

/** A service mounted under a prefix of the gateway. */
export interface Service {
	handle(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext): Promise<void> | void;
	upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: GatewayContext): void;
	close?(): Promise<void>;
}

export interface Gateway {
	server: Server;
	port: number;
	url: string;
	close(): Promise<void>;
}

const ALLOWED_HEADERS =
	'authorization, x-client-info, apikey, content-type, prefer, range, accept-profile, content-profile, x-supabase-api-version, accept, x-upsert, x-metadata, cache-control, x-region';
const EXPOSED_HEADERS =
	'content-range, content-location, preference-applied, location, x-total-count, sb-gateway-version, x-supabase-api-version';

/** Supabase services this stack does not provide; they get a clear 501 instead of a bare 404. */
const UNSUPPORTED: Record<string, string> = {
	functions: 'Edge Functions (/functions/v1)',
	graphql: 'GraphQL (/graphql/v1)',
	pg: 'pg-meta (/pg/v1)'
};

/** Paths served without an apikey, as on Supabase. */
const OPEN_PATHS = [
	/^\/auth\/v1\/(verify|callback|authorize|health|settings)\b/,
	/^\/realtime\/v1\/api\/ping$/,
	// Public objects are fetched by browsers from plain URLs (`<img src>`), as on Supabase.
	/^\/storage\/v1\/object\/(public|info\/public)\//
];

function corsHeaders(req: IncomingMessage): Record<string, string> {
	return {
		'access-control-allow-origin': String(req.headers.origin ?? '*'),
		'access-control-allow-credentials': 'true',
		'access-control-expose-headers': EXPOSED_HEADERS,
		vary: 'Origin'
	};
}

/** Starts the gateway with `services` mounted at `/<name>/v1`. */
export async function startGateway(
	config: StackConfig,
	services: Partial<Record<ServiceName, Service>>,
	options: { port?: number; host?: string } = {}
): Promise<Gateway> {
	const keyRoles = new Map<string, 'anon' | 'service_role'>([
		[config.anonKey, 'anon'],
		[config.publishableKey, 'anon'],
		[config.serviceRoleKey, 'service_role'],
		[config.secretKey, 'service_role']
	]);

	function route(
		req: IncomingMessage,
		url: URL
	): { service: Service; ctx: GatewayContext } | { status: number; body: unknown } {
		const unsupported = /^\/(functions|graphql|pg)\/v1(\/|$)/.exec(url.pathname);
		if (unsupported) {
			return {
				status: 501,
				body: {
					message: `${UNSUPPORTED[unsupported[1]]} is not supported by the embedded stack: use \`supabase start\` or a hosted project for it.`
				}
			};
		}
		const match = /^\/(auth|rest|realtime|storage)\/v1(\/.*)?$/.exec(url.pathname);
		const service = match && services[match[1] as ServiceName];
		if (!match || !service) return { status: 404, body: { message: 'no Route matched with those values' } };
		const apikey = String(req.headers.apikey ?? url.searchParams.get('apikey') ?? '');
		let apikeyRole = keyRoles.get(apikey);
		if (!apikeyRole && OPEN_PATHS.some((p) => p.test(url.pathname))) apikeyRole = 'anon';
		if (!apikeyRole) {
			return apikey
				? { status: 401, body: { message: 'Invalid API key', hint: 'Double check the provided API key.' } }
				: {
						status: 401,
						body: {
							message: 'No API key found in request',
							hint: 'No `apikey` request header or url param was found.'
						}
					};
		}
		const bearer = bearerToken(req);
		const token =
			bearer && looksLikeJwt(bearer)
				? bearer
				: apikeyRole === 'service_role'
					? config.serviceRoleKey
					: config.anonKey;
		const inner = new URL(url);
		inner.pathname = match[2] ?? '/';
		return { service, ctx: { apikeyRole, apikey, token, url: inner } };
	}

	const server = createServer(async (req, res) => {
		const cors = corsHeaders(req);
		for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
		if (req.method === 'OPTIONS') {
			res.writeHead(204, {
				'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
				'access-control-allow-headers': String(
					req.headers['access-control-request-headers'] ?? ALLOWED_HEADERS
				),
				'access-control-max-age': '86400'
			});
			res.end();
			return;
		}
		const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
		const routed = route(req, url);
		if ('status' in routed) return sendJson(res, routed.status, routed.body);
		try {
			await routed.service.handle(req, res, routed.ctx);
		} catch (error) {
			console.error('[gateway] unhandled service error', error);
			if (!res.headersSent) sendJson(res, 500, { message: 'An unexpected error occurred' });
			else res.end();
		}
	});

	server.on('upgrade', (req, socket, head) => {
		const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
		const routed = route(req, url);
		if ('status' in routed || !routed.service.upgrade) {
			const status = 'status' in routed ? routed.status : 404;
			const body = JSON.stringify(
				'status' in routed ? routed.body : { message: 'no Route matched with those values' }
			);
			socket.end(
				`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
			);
			return;
		}
		routed.service.upgrade(req, socket, head, routed.ctx);
	});

	const host = options.host ?? config.host;
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port ?? config.apiPort, host, () => {
			server.off('error', reject);
			resolve();
		});
	});
	const port = (server.address() as AddressInfo).port;
	return {
		server,
		port,
		url: `http://${host}:${port}`,
		async close() {
			await Promise.all(Object.values(services).map((s) => s?.close?.()));
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		}
	};
}
