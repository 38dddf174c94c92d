/**
 * The admin user API under `/admin/users`, service key only (the admin table sits behind
 * requireAdmin in index.ts): list with GoTrue's pagination headers, create (with a password, a
 * bcrypt hash or neither, confirmed or not, banned or not), and per user read, update (any field,
 * merged metadata, bans that end every session) and delete (hard, or soft keeping the row).
 */
import { sendJson } from '../../http.ts';
import { optionalObject, optionalString, withBody, type Json } from '../body.ts';
import type { AuthRequest } from '../context.ts';
import { AuthError, badRequest, emailTaken, uniqueAs } from '../errors.ts';
import { attach, byMethod, type RouteTable } from '../router.ts';
import { transaction } from '../sessions.ts';
import {
	changedEmail,
	checkPasswordStrength,
	findUserByEmail,
	findUserById,
	hashPassword,
	insertUser,
	isUuid,
	listUsers,
	mergeMetadata,
	updateEmail,
	userJson,
	validateEmail,
	type UserRow
} from '../users.ts';

type BodyRequest = AuthRequest & { body: Json };
type TargetRequest = AuthRequest & { target: UserRow };

const userNotFound = () => new AuthError(404, 'user_not_found', 'User not found');

/** Go duration strings as GoTrue's `ban_duration` takes them (`24h`, `1h30m`, `90s`), in ms. */
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

/** Sends the user `id` as it is now. */
async function sendUser(r: AuthRequest, id: string): Promise<void> {
	sendJson(r.res, 200, userJson((await findUserById(r.auth.pool, id))!));
}

async function listAll(r: AuthRequest): Promise<void> {
	const params = r.ctx.url.searchParams;
	const page = params.get('page') ? Number(params.get('page')) : 1;
	const perPage = params.get('per_page') ? Number(params.get('per_page')) : 50;
	if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1) {
		throw badRequest(
			'validation_failed',
			'Bad Pagination Parameters: page and per_page must be positive integers'
		);
	}
	const { users, total } = await listUsers(r.auth.pool, page, Math.min(perPage, 1000));
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

/** The hash a new user gets: of its password, or given as a bcrypt hash, or none. */
async function newPasswordHash(r: BodyRequest, password: string | undefined): Promise<string | null> {
	if (password) {
		checkPasswordStrength(password, r.auth.config.auth.minimumPasswordLength);
		return hashPassword(password);
	}
	const hash = r.body.password_hash;
	if (typeof hash !== 'string') return null;
	if (!/^\$2[aby]\$\d\d\$.{53}$/.test(hash)) {
		throw badRequest('validation_failed', 'Invalid password hash format: only bcrypt hashes are supported');
	}
	return hash;
}

async function create(r: BodyRequest): Promise<void> {
	const { pool } = r.auth;
	const { body } = r;
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
	if (normalized && (await findUserByEmail(pool, normalized))) throw emailTaken();
	const passwordHash = await newPasswordHash(r, password);
	const id = optionalString(body, 'id');
	if (id !== undefined && !isUuid(id)) {
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
	).catch(uniqueAs(emailTaken()));
	return sendUser(r, userId);
}

/** The user the path names: 404 for an id that is not a UUID or not a user. */
async function loadTarget(r: AuthRequest): Promise<UserRow> {
	const id = decodeURIComponent(r.params[0]);
	if (!isUuid(id)) throw new AuthError(404, 'validation_failed', 'user_id must be an UUID');
	const user = await findUserById(r.auth.pool, id);
	if (!user) throw userNotFound();
	return user;
}

async function read(r: TargetRequest): Promise<void> {
	sendJson(r.res, 200, userJson(r.target));
}

async function update(r: TargetRequest & BodyRequest): Promise<void> {
	const { pool } = r.auth;
	const { body, target: user } = r;
	const email = optionalString(body, 'email');
	const password = optionalString(body, 'password');
	const userMetadata = optionalObject(body, 'user_metadata');
	const appMetadata = optionalObject(body, 'app_metadata');
	const role = optionalString(body, 'role');
	const phone = optionalString(body, 'phone');
	const banDuration = optionalString(body, 'ban_duration');
	const newEmail = email !== undefined ? await changedEmail(pool, user, email) : undefined;
	let passwordHash: string | undefined;
	if (password !== undefined) {
		checkPasswordStrength(password, r.auth.config.auth.minimumPasswordLength);
		passwordHash = await hashPassword(password);
	}
	const banMs = banDuration && banDuration !== 'none' ? parseDuration(banDuration) : undefined;
	await transaction(pool, async (db) => {
		const locked = await findUserById(db, user.id, true);
		if (!locked) throw userNotFound();
		if (role !== undefined) await db.query('update auth.users set role = $2 where id = $1', [user.id, role]);
		if (passwordHash) {
			await db.query('update auth.users set encrypted_password = $2 where id = $1', [user.id, passwordHash]);
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
	}).catch(uniqueAs(emailTaken()));
	return sendUser(r, user.id);
}

async function remove(r: TargetRequest & BodyRequest): Promise<void> {
	const { target: user } = r;
	await transaction(r.auth.pool, async (db) => {
		if (r.body.should_soft_delete === true) {
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

/** The admin routes; index.ts mounts them behind requireAdmin. */
export const adminUserRoutes: RouteTable = [
	{ path: '/admin/users', handle: byMethod({ GET: listAll, POST: withBody(create) }) },
	{
		// The id is checked and the user loaded before the method: a wrong method on no user is a 404.
		path: /^\/admin\/users\/([^/]+)$/,
		handle: attach(
			'target',
			loadTarget,
			byMethod({ GET: read, PUT: withBody(update), DELETE: withBody(remove) })
		)
	}
];
