/**
 * `POST /signup` through the real supabase-js client: email accounts with their metadata and a
 * first session, the refusals (taken email, weak password, bad input), and the switches that turn
 * sign-ups off and anonymous sign-ins on.
 */
import { describe, expect, it } from 'vitest';
import bcrypt from 'bcryptjs';
import { startTestStack } from '../../testing/index.ts';
import { loadConfig } from '../../config.ts';
import { clientOf, decode, newEmail, PASSWORD, useAuthStack } from '../testing.ts';

const kit = useAuthStack();

describe('sign-up', () => {
	it('creates a confirmed user with its metadata, a bcrypt hash and a session', async () => {
		const email = newEmail();
		const { data, error } = await kit.anonClient().auth.signUp({
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

		const { rows } = await kit.stack.db.query(
			'select encrypted_password, raw_user_meta_data from auth.users where id = $1',
			[data.user!.id]
		);
		expect(rows[0].encrypted_password).toMatch(/^\$2[aby]\$10\$/);
		expect(await bcrypt.compare(PASSWORD, rows[0].encrypted_password)).toBe(true);
		expect(rows[0].raw_user_meta_data).toMatchObject({ display_name: 'Ada' });
		const sessions = await kit.stack.db.query(
			'select count(*)::int as n from auth.sessions where user_id = $1',
			[data.user!.id]
		);
		expect(sessions.rows[0].n).toBe(1);
	});

	it('refuses a second sign-up with the same email (any case)', async () => {
		const { email } = await kit.signedUp();
		const { data, error } = await kit.anonClient().auth.signUp({
			email: email.toUpperCase(),
			password: PASSWORD
		});
		expect(data.user).toBeNull();
		expect(error).toMatchObject({ status: 422, code: 'user_already_exists' });
	});

	it('refuses a weak password with the reasons', async () => {
		const { error } = await kit.anonClient().auth.signUp({ email: newEmail(), password: '123' });
		expect(error).toMatchObject({ status: 422, code: 'weak_password', name: 'AuthWeakPasswordError' });
		expect((error as unknown as { reasons: string[] }).reasons).toEqual(['length']);
	});

	it('refuses a malformed email and a missing password', async () => {
		const bad = await kit.anonClient().auth.signUp({ email: 'not-an-email', password: PASSWORD });
		expect(bad.error).toMatchObject({ status: 400, code: 'validation_failed' });
		const missing = await kit.anonClient().auth.signUp({ email: newEmail(), password: '' });
		expect(missing.error).toMatchObject({ status: 400, code: 'validation_failed' });
	});
});

describe('configuration', () => {
	it('refuses sign-ups when disabled', async () => {
		const base = loadConfig();
		const closed = await startTestStack({ config: { auth: { ...base.auth, enableSignup: false } } });
		try {
			const client = clientOf(closed.apiUrl, closed.anonKey);
			const signUp = await client.auth.signUp({ email: newEmail(), password: PASSWORD });
			expect(signUp.error).toMatchObject({ status: 422, code: 'signup_disabled' });
			const settings = await fetch(`${closed.apiUrl}/auth/v1/settings`).then((r) => r.json());
			expect(settings.disable_signup).toBe(true);
		} finally {
			await closed.stop();
		}
	});

	it('signs anonymous users in when enabled, and makes them permanent with an email', async () => {
		const base = loadConfig();
		const open = await startTestStack({ config: { auth: { ...base.auth, enableAnonymousSignIns: true } } });
		try {
			const anon = clientOf(open.apiUrl, open.anonKey);
			const { data, error } = await anon.auth.signInAnonymously();
			expect(error).toBeNull();
			expect(data.user).toMatchObject({ is_anonymous: true, email: '' });
			expect(decode(data.session!.access_token)).toMatchObject({
				is_anonymous: true,
				amr: [{ method: 'anonymous', timestamp: expect.any(Number) }]
			});
			const email = newEmail();
			const upgraded = await anon.auth.updateUser({ email, password: PASSWORD });
			expect(upgraded.error).toBeNull();
			expect(upgraded.data.user).toMatchObject({ email, is_anonymous: false });
			const signIn = await clientOf(open.apiUrl, open.anonKey).auth.signInWithPassword({
				email,
				password: PASSWORD
			});
			expect(signIn.error).toBeNull();
		} finally {
			await open.stop();
		}
	});
});
