/**
 * Sessions and tokens of the Auth API, with GoTrue's semantics: a sign-in opens a row in
 * `auth.sessions` and issues a refresh token (`auth.refresh_tokens`); every refresh revokes the
 * token used and issues its child (`parent` chain). A revoked token used again within
 * `refresh_token_reuse_interval` seconds of its revocation answers the session's active token
 * (a client that lost a response); used later, it is taken as theft and ends the whole session.
 * Access tokens are HS256 JWTs carrying GoTrue's claims; `sendSession` answers a session as the
 * sign-up and token endpoints do.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { StackConfig } from '../config.ts';
import { sendJson } from '../http.ts';
import { signJwt } from '../jwt.ts';
import type { AuthRequest } from './context.ts';
import { AuthError, badRequest, forbidden } from './errors.ts';
import { findUserById, INSTANCE_ID, isBanned, userJson, type Queryable, type UserRow } from './users.ts';

/** Thrown inside a transaction to commit its work and then report `error`. */
export class CommitThenThrow extends Error {
	readonly error: AuthError;
	constructor(error: AuthError) {
		super(error.message);
		this.error = error;
	}
}

/** Runs `fn` in one transaction on a client of `pool`. */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query('begin');
		const result = await fn(client);
		await client.query('commit');
		return result;
	} catch (error) {
		if (error instanceof CommitThenThrow) {
			await client.query('commit');
			throw error.error;
		}
		await client.query('rollback').catch(() => {});
		throw error;
	} finally {
		client.release();
	}
}

/** A new opaque refresh token (16 URL-safe characters, 96 random bits). */
function newRefreshToken(): string {
	return randomBytes(12).toString('base64url');
}

/** Who is signing in, for the session row. */
export interface ClientInfo {
	userAgent?: string;
	ip?: string;
}

/** A session's id and its current refresh token, as opening or refreshing it returns them. */
export interface OpenedSession {
	sessionId: string;
	refreshToken: string;
}

/**
 * Opens a session for `userId` signed in with `method` (`password`, `anonymous`), stamps the
 * sign-in time and issues the first refresh token. Runs on the caller's transaction.
 */
export async function openSession(
	db: Queryable,
	userId: string,
	method: string,
	client: ClientInfo
): Promise<OpenedSession> {
	const sessionId = randomUUID();
	const refreshToken = newRefreshToken();
	await db.query(
		`insert into auth.sessions (id, user_id, created_at, updated_at, aal, refreshed_at, user_agent, ip)
		values ($1, $2, now(), now(), 'aal1', null, $3, $4)`,
		[sessionId, userId, client.userAgent?.slice(0, 1000) ?? null, client.ip ?? null]
	);
	await db.query(
		`insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
		values ($1, $2, now(), now(), $3)`,
		[randomUUID(), sessionId, method]
	);
	await db.query(
		`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent,
			session_id)
		values ($1, $2, $3, false, now(), now(), null, $4)`,
		[INSTANCE_ID, refreshToken, userId, sessionId]
	);
	await db.query('update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1', [userId]);
	await db.query(
		`update auth.identities set last_sign_in_at = now(), updated_at = now()
		where user_id = $1 and provider = $2`,
		[userId, method === 'password' ? 'email' : method]
	);
	return { sessionId, refreshToken };
}

/** What the token endpoint answers (GoTrue's `AccessTokenResponse`). */
export interface SessionResponse {
	access_token: string;
	token_type: 'bearer';
	expires_in: number;
	expires_at: number;
	refresh_token: string;
	user: Record<string, unknown>;
}

/** Signs an access token for `user` in `sessionId` and wraps it with the refresh token. */
export async function sessionResponse(
	db: Queryable,
	config: StackConfig,
	issuer: string,
	user: UserRow,
	sessionId: string,
	refreshToken: string
): Promise<SessionResponse> {
	const { rows: amr } = await db.query<{ method: string; timestamp: number }>(
		`select authentication_method as method, extract(epoch from updated_at)::bigint::int as timestamp
		from auth.mfa_amr_claims where session_id = $1 order by updated_at desc`,
		[sessionId]
	);
	const iat = Math.floor(Date.now() / 1000);
	const exp = iat + config.jwtExpiry;
	const accessToken = await signJwt(
		{
			iss: issuer,
			sub: user.id,
			aud: user.aud ?? 'authenticated',
			exp,
			iat,
			email: user.email ?? '',
			phone: user.phone ?? '',
			app_metadata: user.raw_app_meta_data ?? {},
			user_metadata: user.raw_user_meta_data ?? {},
			role: user.role ?? 'authenticated',
			aal: 'aal1',
			amr,
			session_id: sessionId,
			is_anonymous: user.is_anonymous
		},
		config.jwtSecret
	);
	return {
		access_token: accessToken,
		token_type: 'bearer',
		expires_in: config.jwtExpiry,
		expires_at: exp,
		refresh_token: refreshToken,
		user: userJson(user)
	};
}

/** Answers `session` signed for `userId` as loaded now, with `extra` top-level fields. */
export async function sendSession(
	r: AuthRequest,
	userId: string,
	session: OpenedSession,
	extra: Record<string, unknown> = {}
): Promise<void> {
	const { config, pool } = r.auth;
	const user = await findUserById(pool, userId);
	if (!user) throw forbidden('user_not_found', 'User not found');
	const body = await sessionResponse(pool, config, r.issuer, user, session.sessionId, session.refreshToken);
	sendJson(r.res, 200, { ...body, ...extra });
}

interface TokenRow {
	id: string;
	token: string;
	user_id: string;
	revoked: boolean;
	/** Revoked less than the reuse interval ago (by the database clock). */
	reusable: boolean;
	parent: string | null;
	session_id: string | null;
}

/**
 * The `refresh_token` grant: rotates `token` and returns the user, session and new refresh
 * token (to be signed into a response by the caller). Runs in its own transaction; the token row
 * is locked, so concurrent refreshes of one token serialise and the later ones take the
 * reuse-interval path.
 */
export async function refreshSession(
	pool: pg.Pool,
	token: string,
	reuseIntervalSeconds: number
): Promise<OpenedSession & { user: UserRow }> {
	return transaction(pool, async (db) => {
		const { rows } = await db.query<TokenRow>(
			`select id, token, user_id, revoked, parent, session_id,
				now() - updated_at < make_interval(secs => $2) as reusable
			from auth.refresh_tokens where token = $1 for update`,
			[token, reuseIntervalSeconds]
		);
		const row = rows[0];
		if (!row) throw badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
		const session = row.session_id
			? (
					await db.query<{ id: string }>('select id from auth.sessions where id = $1 for update', [
						row.session_id
					])
				).rows[0]
			: undefined;
		if (!session) throw badRequest('session_not_found', 'Invalid Refresh Token: No Valid Session Found');
		const user = await findUserById(db, row.user_id);
		if (!user) throw badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
		if (isBanned(user)) throw badRequest('user_banned', 'Invalid Refresh Token: User Banned');

		if (row.revoked) {
			const active = row.reusable
				? (
						await db.query<{ token: string }>(
							`select token from auth.refresh_tokens where session_id = $1 and not revoked
							order by id desc limit 1`,
							[session.id]
						)
					).rows[0]
				: undefined;
			if (!active) {
				// Reuse of a spent token: someone else may hold the chain, so end the session for all.
				await db.query('delete from auth.sessions where id = $1', [session.id]);
				throw new CommitThenThrow(
					badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used')
				);
			}
			await db.query('update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1', [
				session.id
			]);
			return { user, sessionId: session.id, refreshToken: active.token };
		}

		const child = newRefreshToken();
		await db.query('update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1', [
			row.id
		]);
		await db.query(
			`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent,
				session_id)
			values ($1, $2, $3, false, now(), now(), $4, $5)`,
			[INSTANCE_ID, child, row.user_id, row.token, session.id]
		);
		await db.query('update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1', [
			session.id
		]);
		return { user, sessionId: session.id, refreshToken: child };
	});
}
