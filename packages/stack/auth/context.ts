/**
 * What every Auth endpoint works with. `AuthContext` is the service's shared state, made once by
 * index.ts: the configuration, the database pool and the rate limiters. `AuthRequest` is one
 * request's own: the HTTP pair, the gateway's context, the caller's address for the session row
 * and the limiters, the issuer its tokens name, and the parameters its route matched. Wrappers
 * (see router.ts) hand handlers an `AuthRequest` extended with what they established.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { StackConfig } from '../config.ts';
import type { GatewayContext } from '../gateway.ts';
import type { Limiters } from './rate-limit.ts';
import type { ClientInfo } from './sessions.ts';

/** The Auth service's shared state. */
export interface AuthContext {
	config: StackConfig;
	pool: pg.Pool;
	limiters: Limiters;
}

/** One request to the Auth API. */
export interface AuthRequest {
	req: IncomingMessage;
	res: ServerResponse;
	ctx: GatewayContext;
	auth: AuthContext;
	client: ClientInfo;
	/** The `iss` of the tokens this request is issued: the URL the client reached us at. */
	issuer: string;
	/** The groups its route's path pattern matched, still URL-encoded. */
	params: string[];
}

/** The request context of `req` on the service `auth`. */
export function authRequest(
	auth: AuthContext,
	req: IncomingMessage,
	res: ServerResponse,
	ctx: GatewayContext
): AuthRequest {
	const forwardedHost = req.headers['x-forwarded-host'];
	const host = (Array.isArray(forwardedHost) ? forwardedHost[0] : forwardedHost) ?? req.headers.host;
	const { config } = auth;
	return {
		req,
		res,
		ctx,
		auth,
		client: { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] },
		issuer: host ? `http://${host}/auth/v1` : `http://${config.host}:${config.apiPort}/auth/v1`,
		params: []
	};
}
