/**
 * `POST /token`: the OAuth-style token endpoint, one handler per `grant_type`. The password grant
 * signs an email account in (counted against the sign-in budget); the refresh_token grant rotates
 * a refresh token (its own budget; rotation and reuse detection live in sessions.ts). GoTrue's
 * other grants (pkce, id_token, web3) answer `feature_not_supported`.
 */
import { sendJson } from '../../http.ts';
import { optionalString, withBody, type Json } from '../body.ts';
import type { AuthRequest } from '../context.ts';
import { badRequest, notSupported, unprocessable } from '../errors.ts';
import { rateLimited } from '../rate-limit.ts';
import { byMethod, type Handler, type RouteTable } from '../router.ts';
import { openSession, refreshSession, sendSession, transaction } from '../sessions.ts';
import { findUserByEmail, isBanned, verifyPassword } from '../users.ts';

type BodyRequest = AuthRequest & { body: Json };

async function passwordGrant(r: BodyRequest): Promise<void> {
	const { config, pool } = r.auth;
	const email = optionalString(r.body, 'email');
	const phone = optionalString(r.body, 'phone');
	const password = optionalString(r.body, 'password') ?? '';
	if (email && phone) {
		throw badRequest(
			'validation_failed',
			'Only an email address or phone number should be provided on login.'
		);
	}
	if (phone) throw unprocessable('phone_provider_disabled', 'Phone logins are disabled');
	if (!email) throw badRequest('validation_failed', 'missing email or phone');
	const invalid = () => badRequest('invalid_credentials', 'Invalid login credentials');
	const user = await findUserByEmail(pool, email);
	if (user && isBanned(user)) throw badRequest('user_banned', 'User is banned');
	// Always compare, so an unknown email costs as much as a wrong password.
	if (!(await verifyPassword(password, user?.encrypted_password))) throw invalid();
	if (!user) throw invalid();
	if (!user.email_confirmed_at) throw badRequest('email_not_confirmed', 'Email not confirmed');
	const opened = await transaction(pool, (db) => openSession(db, user.id, 'password', r.client));
	const extra: Json = {};
	if (password.length < config.auth.minimumPasswordLength) {
		// Signed in all the same: the client is told, so it can ask for a stronger password.
		extra.weak_password = {
			reasons: ['length'],
			message: `Password should be at least ${config.auth.minimumPasswordLength} characters.`
		};
	}
	return sendSession(r, user.id, opened, extra);
}

async function refreshGrant(r: BodyRequest): Promise<void> {
	const token = optionalString(r.body, 'refresh_token');
	if (!token) {
		// GoTrue answers this one in OAuth's shape.
		return sendJson(r.res, 400, { error: 'invalid_request', error_description: 'refresh_token required' });
	}
	const refreshed = await refreshSession(r.auth.pool, token, r.auth.config.auth.refreshTokenReuseInterval);
	return sendSession(r, refreshed.user.id, refreshed);
}

/** The grants served, each with the budget it counts against once its body is read. */
const GRANTS = new Map<string, Handler>([
	['password', withBody(rateLimited('signIn', passwordGrant))],
	['refresh_token', withBody(rateLimited('refresh', refreshGrant))]
]);
const UNSUPPORTED_GRANTS = new Set(['pkce', 'id_token', 'web3']);

async function token(r: AuthRequest): Promise<void> {
	const grant = r.ctx.url.searchParams.get('grant_type') ?? '';
	const handler = GRANTS.get(grant);
	if (handler) return handler(r);
	if (UNSUPPORTED_GRANTS.has(grant)) throw notSupported(`The ${grant} grant`);
	throw badRequest('invalid_credentials', 'unsupported_grant_type');
}

export const tokenRoutes: RouteTable = [{ path: '/token', handle: byMethod({ POST: token }) }];
