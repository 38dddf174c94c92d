/**
 * The admin user API through supabase-js's `auth.admin`: the whole life of a user with the service
 * key, unconfirmed users, and the refusal of the anon key and user tokens.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from '@supabase/supabase-js';
import { newEmail, PASSWORD, useAuthStack } from '../testing.ts';

const kit = useAuthStack();

describe('admin API', () => {
	it('creates, lists, reads, updates and deletes users with the service key', async () => {
		const admin = kit.serviceClient().auth.admin;
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
		expect((await kit.anonClient().auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();

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
		const newPassword = await kit.anonClient().auth.signInWithPassword({
			email,
			password: 'another long secret'
		});
		expect(newPassword.error).toBeNull();

		const banned = await admin.updateUserById(id, { ban_duration: '24h' });
		expect(banned.data.user!.banned_until).toBeTruthy();
		const refused = await kit
			.anonClient()
			.auth.signInWithPassword({ email, password: 'another long secret' });
		expect(refused.error).toMatchObject({ code: 'user_banned' });

		const deleted = await admin.deleteUser(id);
		expect(deleted.error).toBeNull();
		const missing = await admin.getUserById(id);
		expect(missing.error).toMatchObject({ status: 404, code: 'user_not_found' });
		const { rows } = await kit.stack.db.query('select count(*)::int as n from auth.users where id = $1', [
			id
		]);
		expect(rows[0].n).toBe(0);
	});

	it('unconfirmed admin-created users cannot sign in', async () => {
		const email = newEmail();
		await kit.serviceClient().auth.admin.createUser({ email, password: PASSWORD });
		const { error } = await kit.anonClient().auth.signInWithPassword({ email, password: PASSWORD });
		expect(error).toMatchObject({ status: 400, code: 'email_not_confirmed' });
	});

	it('refuses the anon key and user tokens', async () => {
		const anon = await kit.anonClient().auth.admin.listUsers();
		expect(anon.error).toMatchObject({ status: 403, code: 'not_admin' });
		const { session } = await kit.signedUp();
		const asUser = createClient(kit.stack.apiUrl, kit.stack.anonKey, {
			auth: { persistSession: false, autoRefreshToken: false },
			global: { headers: { Authorization: `Bearer ${session.access_token}` } }
		});
		const created = await asUser.auth.admin.createUser({ email: newEmail(), password: PASSWORD });
		expect(created.error).toMatchObject({ status: 403, code: 'not_admin' });
	});
});
