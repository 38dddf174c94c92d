/**
 * The Auth API through the real `@supabase/supabase-js` and `@supabase/ssr` clients: sign-up,
 * sign-in, sessions, user updates, sign-out scopes, auth events and the admin API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type AuthChangeEvent, type SupabaseClient } from '@supabase/supabase-js';
import { createServerClient } from '@supabase/ssr';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { startTestStack, type TestStack } from '../testing/index.ts';
import { loadConfig } from '../config.ts';

let stack: TestStack;

beforeAll(async () => {
	const base = loadConfig();
	stack = await startTestStack({
		config: { auth: { ...base.auth, rateLimit: { signInSignUps: 10_000, tokenRefresh: 10_000 } } }
	});
});
afterAll(async () => {
	await stack?.stop();
});

/** A client as a browser app would make it, without storage or timers. */
function anonClient(): SupabaseClient {
	return createClient(stack.apiUrl, stack.anonKey, {
		auth: { persistSession: false, autoRefreshToken: false }
	});
}

function serviceClient(): SupabaseClient {
	return createClient(stack.apiUrl, stack.serviceRoleKey, {
		auth: { persistSession: false, autoRefreshToken: false }
	});
}

const newEmail = () => `user-${randomBytes(6).toString('hex')}@example.com`;
const PASSWORD = 'correct horse battery';

/** Signs a fresh user up and returns its client, email and session. */
async function signedUp(data: Record<string, unknown> = {}) {
	const client = anonClient();
	const email = newEmail();
	const { data: result, error } = await client.auth.signUp({ email, password: PASSWORD, options: { data } });
	expect(error).toBeNull();
	return { client, email, session: result.session!, user: result.user! };
}

describe('sign-up', () => {
	it('creates a confirmed user with its metadata, a bcrypt hash and a session', async () => {
		const email = newEmail();
		const { data, error } = await anonClient().auth.signUp({
			email,
			password: PASSWORD,
			options: { data: { display_name: 'Ada', plan: 'free' } }
		});
		expect(error).toBeNull();
		expect(data.user).toMatchObject({
			email,
			aud: 'authenticated',
			role: 'authenticated',
			phone: '',
			is_anonymous: false,
			app_metadata: { provider: 'email', providers: ['email'] },
			user_metadata: { display_name: 'Ada', plan: 'free', email, email_verified: true }
		});
		expect(data.user!.email_confirmed_at).toBeTruthy();
		expect(data.user!.identities).toHaveLength(1);
		expect(data.user!.identities![0]).toMatchObject({ provider: 'email', id: data.user!.id });
		expect(data.session).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
		expect(data.session!.refresh_token.length).toBeGreaterThanOrEqual(12);

		const { rows } = await stack.db.query(
			'select encrypted_password, raw_user_meta_data from auth.users where id = $1',
			[data.user!.id]
		);
		expect(rows[0].encrypted_password).toMatch(/^\$2[aby]\$10\$/);
		expect(await bcrypt.compare(PASSWORD, rows[0].encrypted_password)).toBe(true);
		expect(rows[0].raw_user_meta_data).toMatchObject({ display_name: 'Ada' });
		const sessions = await stack.db.query('select count(*)::int as n from auth.sessions where user_id = $1', [
			data.user!.id
		]);
		expect(sessions.rows[0].n).toBe(1);
	});

	it('refuses a second sign-up with the same email (any case)', async () => {
		const { email } = await signedUp();
		const { data, error } = await anonClient().auth.signUp({
			email: email.toUpperCase(),
			password: PASSWORD
		});
		expect(data.user).toBeNull();
		expect(error).toMatchObject({ status: 422, code: 'user_already_exists' });
	});

	it('refuses a weak password with the reasons', async () => {
		const { error } = await anonClient().auth.signUp({ email: newEmail(), password: '123' });
		expect(error).toMatchObject({ status: 422, code: 'weak_password', name: 'AuthWeakPasswordError' });
		expect((error as unknown as { reasons: string[] }).reasons).toEqual(['length']);
	});

	it('refuses a malformed email and a missing password', async () => {
		const bad = await anonClient().auth.signUp({ email: 'not-an-email', password: PASSWORD });
		expect(bad.error).toMatchObject({ status: 400, code: 'validation_failed' });
		const missing = await anonClient().auth.signUp({ email: newEmail(), password: '' });
		expect(missing.error).toMatchObject({ status: 400, code: 'validation_failed' });
	});
});

describe('sign-in and the session', () => {
	it('signs in with the right password only', async () => {
		const { email, user } = await signedUp();
		const client = anonClient();
		const wrong = await client.auth.signInWithPassword({ email, password: 'wrong password' });
		expect(wrong.error).toMatchObject({
			status: 400,
			code: 'invalid_credentials',
			message: 'Invalid login credentials'
		});
		const unknown = await client.auth.signInWithPassword({ email: newEmail(), password: PASSWORD });
		expect(unknown.error).toMatchObject({ status: 400, code: 'invalid_credentials' });

		const { data, error } = await client.auth.signInWithPassword({ email, password: PASSWORD });
		expect(error).toBeNull();
		expect(data.user!.id).toBe(user.id);
		expect(data.user!.last_sign_in_at).toBeTruthy();

		const { data: current } = await client.auth.getSession();
		expect(current.session?.access_token).toBe(data.session!.access_token);
		const fetched = await client.auth.getUser();
		expect(fetched.error).toBeNull();
		expect(fetched.data.user).toMatchObject({ id: user.id, email });
		const claims = await client.auth.getClaims();
		expect(claims.error).toBeNull();
		expect(claims.data?.claims).toMatchObject({ sub: user.id, email, role: 'authenticated' });
	});

	it('refreshes the session with a new refresh token', async () => {
		const { client, session } = await signedUp();
		const { data, error } = await client.auth.refreshSession();
		expect(error).toBeNull();
		expect(data.session!.refresh_token).not.toBe(session.refresh_token);
		expect(data.session!.user.id).toBe(session.user.id);
		expect((await client.auth.getUser(data.session!.access_token)).error).toBeNull();
	});
});

describe('updating the user', () => {
	it('merges metadata and changes the password', async () => {
		const { client, email } = await signedUp({ theme: 'dark', drop: 'me' });
		const updated = await client.auth.updateUser({ data: { theme: 'light', drop: null, lang: 'fr' } });
		expect(updated.error).toBeNull();
		expect(updated.data.user!.user_metadata).toMatchObject({ theme: 'light', lang: 'fr' });
		expect(updated.data.user!.user_metadata).not.toHaveProperty('drop');

		const same = await client.auth.updateUser({ password: PASSWORD });
		expect(same.error).toMatchObject({ status: 422, code: 'same_password' });
		const weak = await client.auth.updateUser({ password: 'x' });
		expect(weak.error).toMatchObject({ status: 422, code: 'weak_password' });

		const changed = await client.auth.updateUser({ password: 'a brand new secret' });
		expect(changed.error).toBeNull();
		const old = await anonClient().auth.signInWithPassword({ email, password: PASSWORD });
		expect(old.error).toMatchObject({ code: 'invalid_credentials' });
		const fresh = await anonClient().auth.signInWithPassword({ email, password: 'a brand new secret' });
		expect(fresh.error).toBeNull();
	});

	it('changes the email, refusing one that is taken', async () => {
		const other = await signedUp();
		const { client } = await signedUp();
		const taken = await client.auth.updateUser({ email: other.email });
		expect(taken.error).toMatchObject({ status: 422, code: 'email_exists' });
		const target = newEmail();
		const { data, error } = await client.auth.updateUser({ email: target });
		expect(error).toBeNull();
		expect(data.user!.email).toBe(target);
		const signIn = await anonClient().auth.signInWithPassword({ email: target, password: PASSWORD });
		expect(signIn.error).toBeNull();
	});

	it('refuses app_metadata from the user', async () => {
		const { session } = await signedUp();
		const response = await fetch(`${stack.apiUrl}/auth/v1/user`, {
			method: 'PUT',
			headers: {
				apikey: stack.anonKey,
				authorization: `Bearer ${session.access_token}`,
				'content-type': 'application/json'
			},
			body: JSON.stringify({ app_metadata: { role: 'admin' } })
		});
		expect(response.status).toBe(403);
		expect(await response.json()).toMatchObject({ error_code: 'not_admin', code: 403 });
	});
});

describe('sign-out', () => {
	async function twoDevices() {
		const { client: first, email, user } = await signedUp();
		const second = anonClient();
		const { data, error } = await second.auth.signInWithPassword({ email, password: PASSWORD });
		expect(error).toBeNull();
		const firstSession = (await first.auth.getSession()).data.session!;
		return { first, second, firstSession, secondSession: data.session!, user };
	}

	it('local ends only this session', async () => {
		const { first, second, firstSession, secondSession } = await twoDevices();
		expect((await first.auth.signOut({ scope: 'local' })).error).toBeNull();
		expect((await first.auth.getSession()).data.session).toBeNull();
		const gone = await anonClient().auth.getUser(firstSession.access_token);
		expect(gone.error?.name).toBe('AuthSessionMissingError');
		expect((await second.auth.getUser()).error).toBeNull();
		const refreshed = await anonClient().auth.refreshSession({ refresh_token: secondSession.refresh_token });
		expect(refreshed.error).toBeNull();
	});

	it('global ends every session and their refresh tokens', async () => {
		const { first, secondSession, user } = await twoDevices();
		expect((await first.auth.signOut()).error).toBeNull();
		const refreshed = await anonClient().auth.refreshSession({ refresh_token: secondSession.refresh_token });
		expect(refreshed.error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
		const { rows } = await stack.db.query('select count(*)::int as n from auth.sessions where user_id = $1', [
			user.id
		]);
		expect(rows[0].n).toBe(0);
	});

	it('others keeps only this session', async () => {
		const { first, secondSession, firstSession } = await twoDevices();
		expect((await first.auth.signOut({ scope: 'others' })).error).toBeNull();
		const other = await anonClient().auth.refreshSession({ refresh_token: secondSession.refresh_token });
		expect(other.error).toMatchObject({ code: 'refresh_token_not_found' });
		expect((await anonClient().auth.getUser(firstSession.access_token)).error).toBeNull();
	});

	it('answers 204 and refuses an unknown scope', async () => {
		const { session } = await signedUp();
		const headers = { apikey: stack.anonKey, authorization: `Bearer ${session.access_token}` };
		const bad = await fetch(`${stack.apiUrl}/auth/v1/logout?scope=everything`, { method: 'POST', headers });
		expect(bad.status).toBe(400);
		const ok = await fetch(`${stack.apiUrl}/auth/v1/logout?scope=local`, { method: 'POST', headers });
		expect(ok.status).toBe(204);
	});
});

describe('onAuthStateChange', () => {
	it('reports sign-in, refresh, update and sign-out', async () => {
		const email = newEmail();
		await anonClient().auth.signUp({ email, password: PASSWORD });
		const client = anonClient();
		const events: AuthChangeEvent[] = [];
		const { data } = client.auth.onAuthStateChange((event) => {
			events.push(event);
		});
		await client.auth.getSession();
		await client.auth.signInWithPassword({ email, password: PASSWORD });
		await client.auth.refreshSession();
		await client.auth.updateUser({ data: { seen: true } });
		await client.auth.signOut();
		data.subscription.unsubscribe();
		expect(events).toEqual(['INITIAL_SESSION', 'SIGNED_IN', 'TOKEN_REFRESHED', 'USER_UPDATED', 'SIGNED_OUT']);
	});
});

describe('admin API', () => {
	it('creates, lists, reads, updates and deletes users with the service key', async () => {
		const admin = serviceClient().auth.admin;
		const email = newEmail();
		const created = await admin.createUser({
			email,
			password: PASSWORD,
			email_confirm: true,
			user_metadata: { name: 'Grace' },
			app_metadata: { team: 'blue' }
		});
		expect(created.error).toBeNull();
		const id = created.data.user!.id;
		expect(created.data.user).toMatchObject({
			email,
			user_metadata: { name: 'Grace' },
			app_metadata: { provider: 'email', providers: ['email'], team: 'blue' }
		});
		expect((await anonClient().auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();

		const duplicate = await admin.createUser({ email, password: PASSWORD });
		expect(duplicate.error).toMatchObject({ status: 422, code: 'email_exists' });

		const listed = await admin.listUsers({ page: 1, perPage: 1000 });
		expect(listed.error).toBeNull();
		expect(listed.data.users.map((u) => u.id)).toContain(id);
		expect('total' in listed.data && listed.data.total).toBe(listed.data.users.length);

		const fetched = await admin.getUserById(id);
		expect(fetched.data.user?.email).toBe(email);

		const updated = await admin.updateUserById(id, {
			user_metadata: { name: 'Grace H.' },
			app_metadata: { plan: 'pro' },
			password: 'another long secret'
		});
		expect(updated.error).toBeNull();
		expect(updated.data.user!.user_metadata).toMatchObject({ name: 'Grace H.' });
		expect(updated.data.user!.app_metadata).toMatchObject({ team: 'blue', plan: 'pro' });
		const newPassword = await anonClient().auth.signInWithPassword({
			email,
			password: 'another long secret'
		});
		expect(newPassword.error).toBeNull();

		const banned = await admin.updateUserById(id, { ban_duration: '24h' });
		expect(banned.data.user!.banned_until).toBeTruthy();
		const refused = await anonClient().auth.signInWithPassword({ email, password: 'another long secret' });
		expect(refused.error).toMatchObject({ code: 'user_banned' });

		const deleted = await admin.deleteUser(id);
		expect(deleted.error).toBeNull();
		const missing = await admin.getUserById(id);
		expect(missing.error).toMatchObject({ status: 404, code: 'user_not_found' });
		const { rows } = await stack.db.query('select count(*)::int as n from auth.users where id = $1', [id]);
		expect(rows[0].n).toBe(0);
	});

	it('unconfirmed admin-created users cannot sign in', async () => {
		const email = newEmail();
		await serviceClient().auth.admin.createUser({ email, password: PASSWORD });
		const { error } = await anonClient().auth.signInWithPassword({ email, password: PASSWORD });
		expect(error).toMatchObject({ status: 400, code: 'email_not_confirmed' });
	});

	it('refuses the anon key and user tokens', async () => {
		const anon = await anonClient().auth.admin.listUsers();
		expect(anon.error).toMatchObject({ status: 403, code: 'not_admin' });
		const { session } = await signedUp();
		const asUser = createClient(stack.apiUrl, stack.anonKey, {
			auth: { persistSession: false, autoRefreshToken: false },
			global: { headers: { Authorization: `Bearer ${session.access_token}` } }
		});
		const created = await asUser.auth.admin.createUser({ email: newEmail(), password: PASSWORD });
		expect(created.error).toMatchObject({ status: 403, code: 'not_admin' });
	});
});

describe('@supabase/ssr cookie sessions', () => {
	it('signs in on one server client and reads the user from the cookies on the next', async () => {
		const { email, user } = await signedUp();
		const jar = new Map<string, string>();
		const cookies = {
			getAll: () => [...jar].map(([name, value]) => ({ name, value })),
			setAll: (list: { name: string; value: string }[]) => {
				for (const { name, value } of list) {
					if (value) jar.set(name, value);
					else jar.delete(name);
				}
			}
		};
		const login = createServerClient(stack.apiUrl, stack.anonKey, { cookies });
		const signIn = await login.auth.signInWithPassword({ email, password: PASSWORD });
		expect(signIn.error).toBeNull();
		expect([...jar.keys()].some((name) => name.startsWith('sb-') && name.includes('auth-token'))).toBe(true);

		const next = createServerClient(stack.apiUrl, stack.anonKey, { cookies });
		const fetched = await next.auth.getUser();
		expect(fetched.error).toBeNull();
		expect(fetched.data.user).toMatchObject({ id: user.id, email });
		const claims = await next.auth.getClaims();
		expect(claims.data?.claims.sub).toBe(user.id);

		await next.auth.signOut();
		const after = createServerClient(stack.apiUrl, stack.anonKey, { cookies });
		expect((await after.auth.getUser()).data.user).toBeNull();
	});
});
