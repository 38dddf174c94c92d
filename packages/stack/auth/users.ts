/**
 * Users of the Auth API: rows of `auth.users` (with their `auth.identities`) read and written
 * as GoTrue does, and their JSON form exactly as GoTrue serialises a user.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import bcrypt from 'bcryptjs';
import { AuthError, badRequest, emailTaken } from './errors.ts';

/** `instance_id` of every row: GoTrue's single-tenant nil instance. */
export const INSTANCE_ID = '00000000-0000-0000-0000-000000000000';
/** bcrypt cost GoTrue uses. */
const BCRYPT_COST = 10;
/** GoTrue refuses longer passwords (bcrypt only reads 72 bytes). */
const MAX_PASSWORD_LENGTH = 72;

type Json = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Is `value` a UUID in its text form (user, session and other ids)? */
export function isUuid(value: string): boolean {
	return UUID.test(value);
}

/** A user row as loaded from `auth.users`, with its identities. */
export interface UserRow {
	id: string;
	aud: string | null;
	role: string | null;
	email: string | null;
	encrypted_password: string | null;
	email_confirmed_at: Date | null;
	invited_at: Date | null;
	phone: string | null;
	phone_confirmed_at: Date | null;
	confirmation_sent_at: Date | null;
	confirmed_at: Date | null;
	recovery_sent_at: Date | null;
	email_change: string | null;
	email_change_sent_at: Date | null;
	last_sign_in_at: Date | null;
	raw_app_meta_data: Json | null;
	raw_user_meta_data: Json | null;
	created_at: Date;
	updated_at: Date;
	banned_until: Date | null;
	is_anonymous: boolean;
	identities: IdentityRow[] | null;
}

interface IdentityRow {
	id: string;
	provider_id: string;
	user_id: string;
	identity_data: Json;
	provider: string;
	last_sign_in_at: string | null;
	created_at: string;
	updated_at: string;
	email: string | null;
}

/** Anything that can run a query: a pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

const iso = (value: Date | string | null | undefined): string | undefined =>
	value == null ? undefined : new Date(value).toISOString();

/** Drops `undefined` fields, as Go's `omitempty` does. */
function compact(object: Json): Json {
	return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

/** The user as GoTrue's JSON (the `User` type auth-js reads). */
export function userJson(user: UserRow): Json {
	return compact({
		id: user.id,
		aud: user.aud ?? '',
		role: user.role ?? '',
		email: user.email ?? '',
		email_confirmed_at: iso(user.email_confirmed_at),
		invited_at: iso(user.invited_at),
		phone: user.phone ?? '',
		phone_confirmed_at: iso(user.phone_confirmed_at),
		confirmation_sent_at: iso(user.confirmation_sent_at),
		confirmed_at: iso(user.confirmed_at),
		recovery_sent_at: iso(user.recovery_sent_at),
		new_email: user.email_change || undefined,
		email_change_sent_at: iso(user.email_change_sent_at),
		last_sign_in_at: iso(user.last_sign_in_at),
		app_metadata: user.raw_app_meta_data ?? {},
		user_metadata: user.raw_user_meta_data ?? {},
		identities: (user.identities ?? []).map((identity) =>
			compact({
				identity_id: identity.id,
				id: identity.provider_id,
				user_id: identity.user_id,
				identity_data: identity.identity_data,
				provider: identity.provider,
				last_sign_in_at: iso(identity.last_sign_in_at),
				created_at: iso(identity.created_at),
				updated_at: iso(identity.updated_at),
				email: identity.email ?? undefined
			})
		),
		created_at: iso(user.created_at),
		updated_at: iso(user.updated_at),
		banned_until: iso(user.banned_until),
		is_anonymous: user.is_anonymous
	});
}

const USER_COLUMNS = `u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.invited_at,
	u.phone, u.phone_confirmed_at, u.confirmation_sent_at, u.confirmed_at, u.recovery_sent_at, u.email_change,
	u.email_change_sent_at, u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data, u.created_at,
	u.updated_at, u.banned_until, u.is_anonymous,
	(select coalesce(json_agg(i order by i.created_at), '[]'::json) from auth.identities i where i.user_id = u.id)
		as identities`;

/** Loads a user by id (null when missing). */
export async function findUserById(db: Queryable, id: string, lock = false): Promise<UserRow | null> {
	const { rows } = await db.query<UserRow>(
		`select ${USER_COLUMNS} from auth.users u where u.id = $1 ${lock ? 'for update of u' : ''}`,
		[id]
	);
	return rows[0] ?? null;
}

/** Loads a (non-SSO) user by email, case-insensitively as GoTrue stores emails in lower case. */
export async function findUserByEmail(db: Queryable, email: string): Promise<UserRow | null> {
	const { rows } = await db.query<UserRow>(
		`select ${USER_COLUMNS} from auth.users u where lower(u.email) = lower($1) and not u.is_sso_user
			and u.aud = 'authenticated'`,
		[email]
	);
	return rows[0] ?? null;
}

/** Lists users, newest first, with the total count. */
export async function listUsers(
	db: Queryable,
	page: number,
	perPage: number
): Promise<{ users: UserRow[]; total: number }> {
	const [{ rows }, count] = await Promise.all([
		db.query<UserRow>(
			`select ${USER_COLUMNS} from auth.users u where u.deleted_at is null
				order by u.created_at desc, u.id limit $1 offset $2`,
			[perPage, (page - 1) * perPage]
		),
		db.query<{ total: string }>('select count(*) as total from auth.users where deleted_at is null')
	]);
	return { users: rows, total: Number(count.rows[0].total) };
}

/** Validates and normalises an email as GoTrue does (lower case, at most 255 characters). */
export function validateEmail(email: unknown): string {
	if (typeof email !== 'string' || email === '') {
		throw badRequest('validation_failed', 'An email address is required');
	}
	if (email.length > 255) throw badRequest('validation_failed', 'An email address is too long');
	// The usual pragmatic shape: a local part, an @, and a dotted domain without spaces.
	if (
		!/^[^\s@"(),:;<>[\\\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(
			email
		)
	) {
		throw badRequest('validation_failed', 'Unable to validate email address: invalid format');
	}
	return email.toLowerCase();
}

/**
 * The email `user` asks to change to, normalised, or undefined when it is the current one
 * (compared case-insensitively); 422 `email_exists` when another user holds it.
 */
export async function changedEmail(db: Queryable, user: UserRow, email: string): Promise<string | undefined> {
	if (email.toLowerCase() === user.email) return undefined;
	const normalized = validateEmail(email);
	const other = await findUserByEmail(db, normalized);
	if (other && other.id !== user.id) throw emailTaken();
	return normalized;
}

/** Refuses passwords GoTrue calls weak (422 `weak_password` with the reasons). */
export function checkPasswordStrength(password: string, minimumLength: number): void {
	if (password.length > MAX_PASSWORD_LENGTH) {
		throw badRequest('validation_failed', `Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`);
	}
	if (password.length < minimumLength) {
		throw new AuthError(422, 'weak_password', `Password should be at least ${minimumLength} characters.`, {
			weak_password: { reasons: ['length'] }
		});
	}
}

/** bcrypt hash of `password` (cost 10, `$2a$` as GoTrue writes). */
export async function hashPassword(password: string): Promise<string> {
	return bcrypt.hash(password, BCRYPT_COST);
}

/** A hash to compare against when no user matches, so a miss costs as much as a wrong password. */
const DUMMY_HASH = bcrypt.hashSync('parley-no-such-user', BCRYPT_COST);

/** Does `password` match `hash`? (Always spends one bcrypt comparison.) */
export async function verifyPassword(password: string, hash: string | null | undefined): Promise<boolean> {
	if (typeof password !== 'string') return false;
	const ok = await bcrypt.compare(password, hash || DUMMY_HASH);
	return ok && !!hash;
}

/** What a new user is made of. */
export interface NewUser {
	id?: string;
	email: string | null;
	phone?: string | null;
	passwordHash: string | null;
	emailConfirmed: boolean;
	phoneConfirmed?: boolean;
	userMetadata: Json;
	appMetadata?: Json;
	role?: string;
	isAnonymous?: boolean;
	bannedUntil?: Date | null;
}

/**
 * Inserts a user and, when it has an email, its `email` identity, as GoTrue's sign-up does: the
 * identity data (`sub`, `email`, `email_verified`, `phone_verified`) is merged into the user
 * metadata. Raises `conflict` on a duplicate email (unique index), to be mapped by the caller.
 */
export async function insertUser(db: Queryable, user: NewUser): Promise<string> {
	const id = user.id ?? randomUUID();
	const provider = user.isAnonymous ? 'anonymous' : user.email ? 'email' : 'phone';
	const appMetadata = { provider, providers: [provider], ...user.appMetadata };
	const identityData = user.email
		? { sub: id, email: user.email, email_verified: user.emailConfirmed, phone_verified: false }
		: null;
	const userMetadata = identityData ? { ...user.userMetadata, ...identityData } : user.userMetadata;
	await db.query(
		`insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, phone,
			phone_confirmed_at, raw_app_meta_data, raw_user_meta_data, is_anonymous, banned_until, created_at,
			updated_at)
		values ($1, $2, 'authenticated', $3, $4, $5, case when $6 then now() end, $7,
			case when $8 then now() end, $9, $10, $11, $12, now(), now())`,
		[
			INSTANCE_ID,
			id,
			user.role ?? 'authenticated',
			user.email,
			user.passwordHash,
			user.emailConfirmed,
			user.phone ?? null,
			user.phoneConfirmed ?? false,
			appMetadata,
			userMetadata,
			user.isAnonymous ?? false,
			user.bannedUntil ?? null
		]
	);
	if (identityData) {
		await db.query(
			`insert into auth.identities (id, provider_id, user_id, identity_data, provider, created_at, updated_at)
			values ($1, $2::text, $2::uuid, $3, 'email', now(), now())`,
			[randomUUID(), id, identityData]
		);
	}
	return id;
}

/** Merges `updates` into a metadata object; `null` values delete keys (GoTrue semantics). */
export function mergeMetadata(current: Json | null, updates: Json): Json {
	const merged: Json = { ...current };
	for (const [key, value] of Object.entries(updates)) {
		if (value === null) delete merged[key];
		else merged[key] = value;
	}
	return merged;
}

/** Changes a user's email, keeping the email identity and the metadata copy in step. */
export async function updateEmail(db: Queryable, user: UserRow, email: string, confirmed: boolean) {
	await db.query(
		`update auth.users set email = $2::text, email_change = '', is_anonymous = false,
			email_confirmed_at = case when $3 then now() else null end,
			raw_user_meta_data = case when raw_user_meta_data ? 'email'
				then raw_user_meta_data || jsonb_build_object('email', $2::text) else raw_user_meta_data end,
			updated_at = now()
		where id = $1`,
		[user.id, email, confirmed]
	);
	const { rowCount } = await db.query(
		`update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text),
			updated_at = now() where user_id = $1 and provider = 'email'`,
		[user.id, email]
	);
	if (!rowCount) {
		await db.query(
			`insert into auth.identities (id, provider_id, user_id, identity_data, provider, created_at, updated_at)
			values ($1, $2::text, $2::uuid, $3, 'email', now(), now())`,
			[randomUUID(), user.id, { sub: user.id, email, email_verified: confirmed, phone_verified: false }]
		);
		await db.query(
			`update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb)
				|| jsonb_build_object('providers', coalesce(raw_app_meta_data -> 'providers', '[]'::jsonb) || '["email"]'::jsonb)
			where id = $1 and not coalesce(raw_app_meta_data -> 'providers', '[]'::jsonb) ? 'email'`,
			[user.id]
		);
	}
}

/** Is the user banned right now? */
export function isBanned(user: UserRow): boolean {
	return !!user.banned_until && user.banned_until.getTime() > Date.now();
}
