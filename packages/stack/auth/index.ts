/**
 * The embedded stack's Auth service (`/auth/v1`): a GoTrue-compatible API for email + password
 * accounts, enough for the unmodified `@supabase/supabase-js` and `@supabase/ssr` clients:
 * sign-up, password and refresh-token grants (rotation with reuse detection), the current user
 * (get, update), sign-out scopes, the admin user API (service key only), settings, health and an
 * empty JWKS. Everything else GoTrue offers (OAuth, OTP, magic links, MFA, SSO...) answers a
 * GoTrue-shaped 400 `feature_not_supported`.
 *
 * State lives in the `auth` schema exactly as GoTrue keeps it (see stack/platform/0003_auth.sql);
 * every write runs in a transaction. Errors follow GoTrue's wire format (see errors.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';
import type { GatewayContext, Service } from '../gateway.ts';
import type { ServiceDeps } from '../services.ts';
import { parseJson, PayloadTooLargeError, readBody, sendJson } from '../http.ts';
import { JwtError, verifyJwt, type Claims } from '../jwt.ts';
import { AuthError, badRequest, forbidden, notSupported, sendAuthError, unprocessable } from './errors.ts';
import { RateLimiter } from './rate-limit.ts';
import { openSession, refreshSession, sessionResponse, transaction, type ClientInfo } from './sessions.ts';
import {
	checkPasswordStrength,
	findUserByEmail,
	findUserById,
	hashPassword,
	insertUser,
	isBanned,
	listUsers,
	mergeMetadata,
	updateEmail,
	userJson,
	validateEmail,
	verifyPassword,
	type UserRow
} from './users.ts';

/** Largest request body accepted: auth requests are small, 1 MB is generous. */
export const AUTH_BODY_LIMIT = 1024 * 1024;
/** Roles allowed on the admin API (GoTrue's `GOTRUE_JWT_ADMIN_ROLES` default). */
const ADMIN_ROLES = new Set(['service_role', 'supabase_admin']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Json = Record<string, unknown>;

/** GoTrue routes this stack deliberately leaves out, with the feature each one belongs to. */
const UNSUPPORTED: [RegExp, string][] = [
	[/^\/(otp|magiclink)$/, 'One-time passwords and magic links'],
	[/^\/(verify|recover|resend|reauthenticate|invite)$/, 'Email verification, recovery and invites'],
	[/^\/(authorize|callback)$/, 'OAuth sign-in'],
	[/^\/(sso|saml)(\/|$)/, 'Single sign-on'],
	[/^\/factors(\/|$)/, 'Multi-factor authentication'],
	[/^\/passkeys(\/|$)/, 'Passkeys'],
	[/^\/user\/(identities|oauth)(\/|$)/, 'Identity linking and OAuth grants'],
	[/^\/oauth(\/|$)/, 'The OAuth 2.1 server'],
	[/^\/\.well-known\/(openid-configuration|oauth-authorization-server)$/, 'OpenID discovery'],
	[/^\/admin\/(generate_link|sso|oauth|custom-providers|audit)(\/|$)/, 'This admin feature'],
	[/^\/admin\/users\/[^/]+\/(factors|passkeys)(\/|$)/, 'Multi-factor authentication']
];

interface Request {
	req: IncomingMessage;
	res: ServerResponse;
	ctx: GatewayContext;
	client: ClientInfo;
	issuer: string;
}

/** Parses the JSON body (an object, or empty for none). */
async function jsonBody(req: IncomingMessage): Promise<Json> {
	let raw: Buffer;
	try {
		raw = await readBody(req, AUTH_BODY_LIMIT);
	} catch (error) {
		if (error instanceof PayloadTooLargeError) {
			throw new AuthError(
				413,
				'request_entity_too_large',
				`Request body too large (max ${AUTH_BODY_LIMIT} bytes)`
			);
		}
		throw error;
	}
	const text = raw.toString('utf8').trim();
	if (!text) return {};
	let parsed: unknown;
	try {
		parsed = parseJson(text);
	} catch (error) {
		throw badRequest('bad_json', `Could not parse request body as JSON: ${(error as Error).message}`);
	}
	if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
		throw badRequest('bad_json', 'Could not parse request body as JSON: expected an object');
	}
	return parsed as Json;
}

function optionalString(body: Json, key: string): string | undefined {
	const value = body[key];
	if (value === undefined || value === null) return undefined;
	if (typeof value !== 'string') throw badRequest('validation_failed', `${key} must be a string`);
	return value;
}

function optionalObject(body: Json, key: string): Json | undefined {
	const value = body[key];
	if (value === undefined || value === null) return undefined;
	if (typeof value !== 'object' || Array.isArray(value)) {
		throw badRequest('validation_failed', `${key} must be a JSON object`);
	}
	return value as Json;
}

/**
 * Verifies an access token as GoTrue does (HS256 only), with golang-jwt's wording in the
 * message so clients see what they would see against GoTrue.
 */
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

/** Go duration strings as GoTrue's `ban_duration` takes them (`24h`, `1h30m`, `90s`). */
function parseDuration(value: string): number {
	const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001 };
	const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|h|m|s)/g)];
	if (!parts.length || parts.map((p) => p[0]).join('') !== value) {
		throw badRequest(
			'validation_failed',
			`invalid format for ban duration: time: invalid duration "${value}"`
		);
	}
	return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0);
}

/** Creates the Auth service on the project database. */
export function createAuthService(deps: ServiceDeps): Service {
	const { config } = deps;
	const log = deps.log ?? ((service: string, message: string) => console.error(`[${service}] ${message}`));
	const pool = new pg.Pool({ connectionString: deps.dbUrl, max: 10 });
	pool.on('error', (error) => log('auth', `database pool error: ${error.message}`));
	const rateLimit = config.auth.rateLimit ?? { signInSignUps: 30, tokenRefresh: 150 };
	const signInLimiter = new RateLimiter(rateLimit.signInSignUps);
	const refreshLimiter = new RateLimiter(rateLimit.tokenRefresh);

	function limit(limiter: RateLimiter, r: Request): void {
		if (!limiter.take(r.client.ip ?? 'unknown')) {
			throw new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached');
		}
	}

	/** GoTrue's `requireAuthentication`: the token's user and session must still exist. */
	async function authenticate(r: Request): Promise<{ user: UserRow; claims: Claims; sessionId?: string }> {
		const claims = await verifyToken(r.ctx.token, config.jwtSecret);
		if (!claims.sub) throw forbidden('bad_jwt', 'invalid claim: missing sub claim');
		if (!UUID.test(claims.sub)) throw badRequest('bad_jwt', 'invalid claim: sub claim must be a UUID');
		const user = await findUserById(pool, claims.sub);
		if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
		const sessionId = typeof claims.session_id === 'string' ? claims.session_id : undefined;
		if (sessionId && sessionId !== '00000000-0000-0000-0000-000000000000') {
			if (!UUID.test(sessionId)) {
				throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID');
			}
			const { rowCount } = await pool.query('select 1 from auth.sessions where id = $1', [sessionId]);
			if (!rowCount)
				throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
		}
		if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
		return { user, claims, sessionId };
	}

	/** GoTrue's `requireAdminCredentials`: a valid token whose role is an admin role. */
	async function requireAdmin(r: Request): Promise<void> {
		const claims = await verifyToken(r.ctx.token, config.jwtSecret);
		if (typeof claims.session_id === 'string' && UUID.test(claims.session_id)) {
			const { rowCount } = await pool.query('select 1 from auth.sessions where id = $1', [claims.session_id]);
			if (!rowCount)
				throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
		}
		if (!ADMIN_ROLES.has(String(claims.role))) throw forbidden('not_admin', 'User not allowed');
	}

	/** Signs a session for a freshly loaded user and sends it. */
	async function sendSession(
		r: Request,
		userId: string,
		sessionId: string,
		refreshToken: string,
		extra: Json = {}
	) {
		const user = await findUserById(pool, userId);
		if (!user) throw forbidden('user_not_found', 'User not found');
		const body = await sessionResponse(pool, config, r.issuer, user, sessionId, refreshToken);
		sendJson(r.res, 200, { ...body, ...extra });
	}

	async function signup(r: Request) {
		const body = await jsonBody(r.req);
		if (!config.auth.enableSignup) {
			throw unprocessable('signup_disabled', 'Signups not allowed for this instance');
		}
		const email = optionalString(body, 'email');
		const phone = optionalString(body, 'phone');
		const password = optionalString(body, 'password');
		const data = optionalObject(body, 'data') ?? {};
		if (!email && !phone) {
			if (!config.auth.enableAnonymousSignIns) {
				throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
			}
			limit(signInLimiter, r);
			const opened = await transaction(pool, async (db) => {
				const id = await insertUser(db, {
					email: null,
					passwordHash: null,
					emailConfirmed: false,
					userMetadata: data,
					isAnonymous: true
				});
				return { id, ...(await openSession(db, id, 'anonymous', r.client)) };
			});
			return sendSession(r, opened.id, opened.sessionId, opened.refreshToken);
		}
		limit(signInLimiter, r);
		if (!password) throw badRequest('validation_failed', 'Signup requires a valid password');
		if (email && phone) {
			throw badRequest(
				'validation_failed',
				'Only an email address or phone number should be provided on signup.'
			);
		}
		if (phone) throw badRequest('phone_provider_disabled', 'Phone signups are disabled');
		const normalized = validateEmail(email);
		checkPasswordStrength(password, config.auth.minimumPasswordLength);
		if (await findUserByEmail(pool, normalized)) {
			throw unprocessable('user_already_exists', 'User already registered');
		}
		// Hash outside the transaction: bcrypt is slow and must not hold a connection.
		const passwordHash = await hashPassword(password);
		const opened = await transaction(pool, async (db) => {
			const id = await insertUser(db, {
				email: normalized,
				passwordHash,
				emailConfirmed: true, // the local default: no confirmation email, as `enable_confirmations = false`
				userMetadata: data
			});
			return { id, ...(await openSession(db, id, 'password', r.client)) };
		}).catch((error: unknown) => {
			if ((error as { code?: string }).code === '23505') {
				throw unprocessable('user_already_exists', 'User already registered');
			}
			throw error;
		});
		return sendSession(r, opened.id, opened.sessionId, opened.refreshToken);
	}

	async function passwordGrant(r: Request) {
		const body = await jsonBody(r.req);
		limit(signInLimiter, r);
		const email = optionalString(body, 'email');
		const phone = optionalString(body, 'phone');
		const password = optionalString(body, 'password') ?? '';
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
			extra.weak_password = {
				reasons: ['length'],
				message: `Password should be at least ${config.auth.minimumPasswordLength} characters.`
			};
		}
		return sendSession(r, user.id, opened.sessionId, opened.refreshToken, extra);
	}

	async function refreshGrant(r: Request) {
		const body = await jsonBody(r.req);
		limit(refreshLimiter, r);
		const token = optionalString(body, 'refresh_token');
		if (!token) {
			// GoTrue answers this one in OAuth's shape.
			return sendJson(r.res, 400, { error: 'invalid_request', error_description: 'refresh_token required' });
		}
		const refreshed = await refreshSession(pool, token, config.auth.refreshTokenReuseInterval);
		return sendSession(r, refreshed.user.id, refreshed.sessionId, refreshed.refreshToken);
	}

	async function token(r: Request) {
		if (r.req.method !== 'POST') throw methodNotAllowed();
		const grant = r.ctx.url.searchParams.get('grant_type');
		if (grant === 'password') return passwordGrant(r);
		if (grant === 'refresh_token') return refreshGrant(r);
		if (grant === 'pkce' || grant === 'id_token' || grant === 'web3') {
			throw notSupported(`The ${grant} grant`);
		}
		throw badRequest('invalid_credentials', 'unsupported_grant_type');
	}

	async function updateUser(r: Request) {
		const { user, sessionId } = await authenticate(r);
		const body = await jsonBody(r.req);
		const email = optionalString(body, 'email');
		const password = optionalString(body, 'password');
		const data = optionalObject(body, 'data');
		if (optionalObject(body, 'app_metadata')) {
			throw forbidden('not_admin', 'Updating app_metadata requires admin privileges');
		}
		if (optionalString(body, 'phone')) throw notSupported('Phone numbers');
		let newEmail: string | undefined;
		if (email && email.toLowerCase() !== user.email) {
			newEmail = validateEmail(email);
			const other = await findUserByEmail(pool, newEmail);
			if (other && other.id !== user.id) {
				throw unprocessable('email_exists', 'A user with this email address has already been registered');
			}
		}
		if (user.is_anonymous && password && !newEmail) {
			throw unprocessable(
				'validation_failed',
				'Updating password of an anonymous user without an email or phone is not allowed'
			);
		}
		let passwordHash: string | undefined;
		if (password) {
			checkPasswordStrength(password, config.auth.minimumPasswordLength);
			if (user.encrypted_password && (await verifyPassword(password, user.encrypted_password))) {
				throw unprocessable('same_password', 'New password should be different from the old password.');
			}
			passwordHash = await hashPassword(password);
		}
		await transaction(pool, async (db) => {
			const locked = await findUserById(db, user.id, true);
			if (!locked) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
			if (passwordHash) {
				await db.query('update auth.users set encrypted_password = $2, updated_at = now() where id = $1', [
					user.id,
					passwordHash
				]);
				// A new password ends every other session, so a thief holding one is signed out.
				await db.query('delete from auth.sessions where user_id = $1 and id is distinct from $2', [
					user.id,
					sessionId ?? null
				]);
			}
			if (data) {
				await db.query('update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1', [
					user.id,
					mergeMetadata(locked.raw_user_meta_data, data)
				]);
			}
			// No mail server locally: an email change applies at once, as with autoconfirm.
			if (newEmail) {
				await updateEmail(db, locked, newEmail, true).catch((error: unknown) => {
					if ((error as { code?: string }).code === '23505') {
						throw unprocessable('email_exists', 'A user with this email address has already been registered');
					}
					throw error;
				});
			}
		});
		const updated = await findUserById(pool, user.id);
		sendJson(r.res, 200, userJson(updated!));
	}

	async function logout(r: Request) {
		if (r.req.method !== 'POST') throw methodNotAllowed();
		const scope = r.ctx.url.searchParams.get('scope') ?? 'global';
		if (!['global', 'local', 'others'].includes(scope)) {
			throw badRequest('validation_failed', 'Unsupported logout scope');
		}
		const { user, sessionId } = await authenticate(r);
		await transaction(pool, async (db) => {
			if (scope === 'local' && sessionId) {
				await db.query('delete from auth.sessions where id = $1', [sessionId]);
			} else if (scope === 'others') {
				await db.query('delete from auth.sessions where user_id = $1 and id is distinct from $2', [
					user.id,
					sessionId ?? null
				]);
			} else {
				await db.query('delete from auth.sessions where user_id = $1', [user.id]);
			}
		});
		r.res.writeHead(204);
		r.res.end();
	}

	async function adminCreateUser(r: Request) {
		const body = await jsonBody(r.req);
		const email = optionalString(body, 'email');
		const phone = optionalString(body, 'phone');
		const password = optionalString(body, 'password');
		if (!email && !phone) {
			throw badRequest('validation_failed', 'Cannot create a user without either an email or phone');
		}
		if (body.password_hash !== undefined && password) {
			throw badRequest('validation_failed', 'Only a password or a password hash should be provided');
		}
		const normalized = email ? validateEmail(email) : null;
		if (normalized && (await findUserByEmail(pool, normalized))) {
			throw unprocessable('email_exists', 'A user with this email address has already been registered');
		}
		let passwordHash: string | null = null;
		if (password) {
			checkPasswordStrength(password, config.auth.minimumPasswordLength);
			passwordHash = await hashPassword(password);
		} else if (typeof body.password_hash === 'string') {
			if (!/^\$2[aby]\$\d\d\$.{53}$/.test(body.password_hash)) {
				throw badRequest(
					'validation_failed',
					'Invalid password hash format: only bcrypt hashes are supported'
				);
			}
			passwordHash = body.password_hash;
		}
		const id = optionalString(body, 'id');
		if (id !== undefined && !UUID.test(id)) {
			throw badRequest('validation_failed', 'ID must conform to the uuid v4 format');
		}
		const banDuration = optionalString(body, 'ban_duration');
		const bannedUntil =
			banDuration && banDuration !== 'none' ? new Date(Date.now() + parseDuration(banDuration)) : null;
		const userId = await transaction(pool, (db) =>
			insertUser(db, {
				id,
				email: normalized,
				phone: phone ?? null,
				passwordHash,
				emailConfirmed: body.email_confirm === true,
				phoneConfirmed: body.phone_confirm === true,
				userMetadata: optionalObject(body, 'user_metadata') ?? optionalObject(body, 'data') ?? {},
				appMetadata: optionalObject(body, 'app_metadata'),
				role: optionalString(body, 'role'),
				bannedUntil
			})
		).catch((error: unknown) => {
			if ((error as { code?: string }).code === '23505') {
				throw unprocessable('email_exists', 'A user with this email address has already been registered');
			}
			throw error;
		});
		sendJson(r.res, 200, userJson((await findUserById(pool, userId))!));
	}

	async function adminListUsers(r: Request) {
		const params = r.ctx.url.searchParams;
		const page = params.get('page') ? Number(params.get('page')) : 1;
		const perPage = params.get('per_page') ? Number(params.get('per_page')) : 50;
		if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1) {
			throw badRequest(
				'validation_failed',
				'Bad Pagination Parameters: page and per_page must be positive integers'
			);
		}
		const { users, total } = await listUsers(pool, page, Math.min(perPage, 1000));
		const last = Math.max(1, Math.ceil(total / perPage));
		const link = (p: number, rel: string) =>
			`</auth/v1/admin/users?page=${p}&per_page=${perPage}>; rel="${rel}"`;
		const links = [...(page < last ? [link(page + 1, 'next')] : []), link(last, 'last')];
		sendJson(
			r.res,
			200,
			{ users: users.map(userJson), aud: 'authenticated' },
			{ 'x-total-count': total, link: links.join(', ') }
		);
	}

	async function adminUpdateUser(r: Request, user: UserRow) {
		const body = await jsonBody(r.req);
		const email = optionalString(body, 'email');
		const password = optionalString(body, 'password');
		const userMetadata = optionalObject(body, 'user_metadata');
		const appMetadata = optionalObject(body, 'app_metadata');
		const role = optionalString(body, 'role');
		const phone = optionalString(body, 'phone');
		const banDuration = optionalString(body, 'ban_duration');
		let newEmail: string | undefined;
		if (email !== undefined && email.toLowerCase() !== user.email) {
			newEmail = validateEmail(email);
			const other = await findUserByEmail(pool, newEmail);
			if (other && other.id !== user.id) {
				throw unprocessable('email_exists', 'A user with this email address has already been registered');
			}
		}
		let passwordHash: string | undefined;
		if (password !== undefined) {
			checkPasswordStrength(password, config.auth.minimumPasswordLength);
			passwordHash = await hashPassword(password);
		}
		const banMs = banDuration && banDuration !== 'none' ? parseDuration(banDuration) : undefined;
		await transaction(pool, async (db) => {
			const locked = await findUserById(db, user.id, true);
			if (!locked) throw new AuthError(404, 'user_not_found', 'User not found');
			if (role !== undefined)
				await db.query('update auth.users set role = $2 where id = $1', [user.id, role]);
			if (passwordHash) {
				await db.query('update auth.users set encrypted_password = $2 where id = $1', [
					user.id,
					passwordHash
				]);
			}
			if (newEmail) await updateEmail(db, locked, newEmail, body.email_confirm !== false);
			else if (body.email_confirm === true && !locked.email_confirmed_at) {
				await db.query('update auth.users set email_confirmed_at = now() where id = $1', [user.id]);
			}
			if (phone !== undefined) {
				await db.query(
					`update auth.users set phone = nullif($2, ''),
						phone_confirmed_at = case when $3 then now() else phone_confirmed_at end where id = $1`,
					[user.id, phone, body.phone_confirm === true]
				);
			}
			if (userMetadata) {
				await db.query('update auth.users set raw_user_meta_data = $2 where id = $1', [
					user.id,
					mergeMetadata(locked.raw_user_meta_data, userMetadata)
				]);
			}
			if (appMetadata) {
				await db.query('update auth.users set raw_app_meta_data = $2 where id = $1', [
					user.id,
					mergeMetadata(locked.raw_app_meta_data, appMetadata)
				]);
			}
			if (banDuration === 'none') {
				await db.query('update auth.users set banned_until = null where id = $1', [user.id]);
			} else if (banMs !== undefined) {
				await db.query('update auth.users set banned_until = $2 where id = $1', [
					user.id,
					new Date(Date.now() + banMs)
				]);
				// A ban ends every session at once.
				await db.query('delete from auth.sessions where user_id = $1', [user.id]);
			}
			await db.query('update auth.users set updated_at = now() where id = $1', [user.id]);
		}).catch((error: unknown) => {
			if ((error as { code?: string }).code === '23505') {
				throw unprocessable('email_exists', 'A user with this email address has already been registered');
			}
			throw error;
		});
		sendJson(r.res, 200, userJson((await findUserById(pool, user.id))!));
	}

	async function adminDeleteUser(r: Request, user: UserRow) {
		const body = await jsonBody(r.req);
		await transaction(pool, async (db) => {
			if (body.should_soft_delete === true) {
				// Soft delete keeps the row (and its id for foreign keys) but nothing that identifies or logs in.
				await db.query('delete from auth.sessions where user_id = $1', [user.id]);
				await db.query('delete from auth.identities where user_id = $1', [user.id]);
				await db.query(
					`update auth.users set deleted_at = now(), email = null, phone = null, encrypted_password = null,
						raw_user_meta_data = '{}', updated_at = now() where id = $1`,
					[user.id]
				);
			} else {
				await db.query('delete from auth.users where id = $1', [user.id]);
			}
		});
		sendJson(r.res, 200, {});
	}

	async function admin(r: Request, path: string) {
		await requireAdmin(r);
		const method = r.req.method;
		if (path === '/admin/users' || path === '/admin/users/') {
			if (method === 'GET') return adminListUsers(r);
			if (method === 'POST') return adminCreateUser(r);
			throw methodNotAllowed();
		}
		const match = /^\/admin\/users\/([^/]+)\/?$/.exec(path);
		if (!match) throw notFound();
		const id = decodeURIComponent(match[1]);
		if (!UUID.test(id)) throw new AuthError(404, 'validation_failed', 'user_id must be an UUID');
		const user = await findUserById(pool, id);
		if (!user) throw new AuthError(404, 'user_not_found', 'User not found');
		if (method === 'GET') return sendJson(r.res, 200, userJson(user));
		if (method === 'PUT') return adminUpdateUser(r, user);
		if (method === 'DELETE') return adminDeleteUser(r, user);
		throw methodNotAllowed();
	}

	async function route(r: Request) {
		const path = r.ctx.url.pathname.replace(/\/+$/, '') || '/';
		const method = r.req.method ?? 'GET';
		switch (path) {
			case '/health':
				return sendJson(r.res, 200, {
					version: 'parley-embedded',
					name: 'GoTrue',
					description: 'GoTrue-compatible Auth API of the embedded Parley stack'
				});
			case '/settings':
				return sendJson(r.res, 200, {
					external: {
						anonymous_users: config.auth.enableAnonymousSignIns,
						email: true,
						phone: false
					},
					disable_signup: !config.auth.enableSignup,
					mailer_autoconfirm: true,
					phone_autoconfirm: false,
					sms_provider: '',
					saml_enabled: false,
					passkeys_enabled: false
				});
			case '/.well-known/jwks.json':
				// HS256 only: no public keys, so clients fall back to asking GET /user.
				return sendJson(r.res, 200, { keys: [] });
			case '/signup':
				if (method !== 'POST') throw methodNotAllowed();
				return signup(r);
			case '/token':
				return token(r);
			case '/user':
				if (method === 'GET') return sendJson(r.res, 200, userJson((await authenticate(r)).user));
				if (method === 'PUT') return updateUser(r);
				throw methodNotAllowed();
			case '/logout':
				return logout(r);
		}
		for (const [pattern, feature] of UNSUPPORTED) if (pattern.test(path)) throw notSupported(feature);
		if (path.startsWith('/admin/')) return admin(r, path);
		throw notFound();
	}

	return {
		async handle(req, res, ctx) {
			const forwardedHost = req.headers['x-forwarded-host'];
			const host = (Array.isArray(forwardedHost) ? forwardedHost[0] : forwardedHost) ?? req.headers.host;
			const r: Request = {
				req,
				res,
				ctx,
				client: { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] },
				issuer: host ? `http://${host}/auth/v1` : `http://${config.host}:${config.apiPort}/auth/v1`
			};
			try {
				await route(r);
			} catch (error) {
				if (res.headersSent) {
					res.end();
					return;
				}
				if (error instanceof AuthError) {
					// The rest of an oversized body is never read: close rather than reuse the connection.
					if (error.status === 413) res.setHeader('connection', 'close');
					return sendAuthError(req, res, error);
				}
				log('auth', `unexpected error: ${(error as Error).stack ?? String(error)}`);
				sendAuthError(
					req,
					res,
					new AuthError(500, 'unexpected_failure', 'Unexpected failure, please try again')
				);
			}
		},
		async close() {
			await pool.end();
		}
	};
}

function methodNotAllowed(): AuthError {
	return new AuthError(405, 'method_not_allowed', 'Method Not Allowed');
}

function notFound(): AuthError {
	return new AuthError(404, 'not_found', 'Not Found');
}
