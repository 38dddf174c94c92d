/**
 * Who may call a route, as GoTrue decides it. `requireUser` wants an access token whose user and
 * session still exist (GoTrue's `requireAuthentication`) and hands the handler that user as
 * `r.caller`; `requireAdmin` wants a token whose role is an admin role. Tokens are verified as
 * GoTrue verifies them (HS256 only), with golang-jwt's wording in the messages so clients see
 * what they would see against GoTrue.
 */
import { verifyJwt, JwtError, type Claims } from '../jwt.ts';
import type { AuthRequest } from './context.ts';
import { badRequest, forbidden } from './errors.ts';
import { attach, type Handler } from './router.ts';
import { findUserById, isBanned, isUuid, type Queryable, type UserRow } from './users.ts';

/** Roles allowed on the admin API (GoTrue's `GOTRUE_JWT_ADMIN_ROLES` default). */
const ADMIN_ROLES = new Set(['service_role', 'supabase_admin']);
/** The session id GoTrue puts in tokens that belong to no session. */
const NO_SESSION = '00000000-0000-0000-0000-000000000000';

/** The user a request acts as, and the session its token belongs to. */
export interface Caller {
	user: UserRow;
	claims: Claims;
	sessionId?: string;
}

async function verifyToken(token: string, secret: string): Promise<Claims> {
	const reason = (detail: string) =>
		forbidden('bad_jwt', `invalid JWT: unable to parse or verify signature, ${detail}`);
	let header: { alg?: unknown };
	try {
		header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
	} catch {
		throw reason('token is malformed: could not JSON decode header');
	}
	if (header.alg !== 'HS256') {
		throw reason(`token signature is invalid: signing method ${String(header.alg)} is invalid`);
	}
	try {
		return await verifyJwt(token, secret);
	} catch (error) {
		if (error instanceof JwtError && error.reason === 'expired') {
			throw reason('token has invalid claims: token is expired');
		}
		throw reason('token signature is invalid: signature is invalid');
	}
}

/** Refuses a token whose session has ended (signed out, or ended by a ban or a password change). */
async function requireSession(db: Queryable, sessionId: string): Promise<void> {
	const { rowCount } = await db.query('select 1 from auth.sessions where id = $1', [sessionId]);
	if (!rowCount) throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
}

/** The caller of `r`, refusing a token without a live user and session. */
export async function authenticate(r: AuthRequest): Promise<Caller> {
	const { config, pool } = r.auth;
	const claims = await verifyToken(r.ctx.token, config.jwtSecret);
	if (!claims.sub) throw forbidden('bad_jwt', 'invalid claim: missing sub claim');
	if (!isUuid(claims.sub)) throw badRequest('bad_jwt', 'invalid claim: sub claim must be a UUID');
	const user = await findUserById(pool, claims.sub);
	if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
	const sessionId = typeof claims.session_id === 'string' ? claims.session_id : undefined;
	if (sessionId && sessionId !== NO_SESSION) {
		if (!isUuid(sessionId)) throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID');
		await requireSession(pool, sessionId);
	}
	if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
	return { user, claims, sessionId };
}

/** What requireUser adds to a request. */
export interface WithCaller {
	caller: Caller;
}

/** Authenticates the caller before `next`, which finds it as `r.caller`. */
export function requireUser<R extends AuthRequest>(next: Handler<R & WithCaller>): Handler<R> {
	return attach<'caller', Caller, R>('caller', authenticate, next);
}

/** Lets only admin tokens (the service key) through to `next`. */
export function requireAdmin<R extends AuthRequest>(next: Handler<R>): Handler<R> {
	return async (r) => {
		const { config, pool } = r.auth;
		const claims = await verifyToken(r.ctx.token, config.jwtSecret);
		if (typeof claims.session_id === 'string' && isUuid(claims.session_id)) {
			await requireSession(pool, claims.session_id);
		}
		if (!ADMIN_ROLES.has(String(claims.role))) throw forbidden('not_admin', 'User not allowed');
		return next(r);
	};
}
