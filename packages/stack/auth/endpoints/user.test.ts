/**
 * `PUT /user` through the real supabase-js client: metadata merges, password and email changes
 * with their refusals, and app_metadata kept out of the user's reach. `GET /user` is exercised by
 * every test that checks a token (see ../tokens.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { newEmail, PASSWORD, useAuthStack } from '../testing.ts';

const kit = useAuthStack();

describe('updating the user', () => {
	it('merges metadata and changes the password', async () => {
		const { client, email } = await kit.signedUp({ theme: 'dark', drop: 'me' });
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
		const old = await kit.anonClient().auth.signInWithPassword({ email, password: PASSWORD });
		expect(old.error).toMatchObject({ code: 'invalid_credentials' });
		const fresh = await kit.anonClient().auth.signInWithPassword({ email, password: 'a brand new secret' });
		expect(fresh.error).toBeNull();
	});

	it('changes the email, refusing one that is taken', async () => {
		const other = await kit.signedUp();
		const { client } = await kit.signedUp();
		const taken = await client.auth.updateUser({ email: other.email });
		expect(taken.error).toMatchObject({ status: 422, code: 'email_exists' });
		const target = newEmail();
		const { data, error } = await client.auth.updateUser({ email: target });
		expect(error).toBeNull();
		expect(data.user!.email).toBe(target);
		const signIn = await kit.anonClient().auth.signInWithPassword({ email: target, password: PASSWORD });
		expect(signIn.error).toBeNull();
	});

	it('refuses app_metadata from the user', async () => {
		const { session } = await kit.signedUp();
		const response = await fetch(`${kit.stack.apiUrl}/auth/v1/user`, {
			method: 'PUT',
			headers: {
				apikey: kit.stack.anonKey,
				authorization: `Bearer ${session.access_token}`,
				'content-type': 'application/json'
			},
			body: JSON.stringify({ app_metadata: { role: 'admin' } })
		});
		expect(response.status).toBe(403);
		expect(await response.json()).toMatchObject({ error_code: 'not_admin', code: 403 });
	});
});
