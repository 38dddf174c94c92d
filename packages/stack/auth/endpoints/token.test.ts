/**
 * `POST /token` through the real supabase-js client: the password grant signs in with the right
 * password only, the refresh_token grant rotates the refresh token. Rotation's edge cases (reuse,
 * theft, races) are in ../tokens.test.ts, the sign-in rate limit in ../rate-limit.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { newEmail, PASSWORD, useAuthStack } from '../testing.ts';

const kit = useAuthStack();

describe('sign-in and the session', () => {
	it('signs in with the right password only', async () => {
		const { email, user } = await kit.signedUp();
		const client = kit.anonClient();
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
		const { client, session } = await kit.signedUp();
		const { data, error } = await client.auth.refreshSession();
		expect(error).toBeNull();
		expect(data.session!.refresh_token).not.toBe(session.refresh_token);
		expect(data.session!.user.id).toBe(session.user.id);
		expect((await client.auth.getUser(data.session!.access_token)).error).toBeNull();
	});
});
