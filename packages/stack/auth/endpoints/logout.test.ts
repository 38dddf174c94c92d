/**
 * `POST /logout` through the real supabase-js client: the local, global and others scopes on a
 * user signed in on two devices, the 204 answer and an unknown scope.
 */
import { describe, expect, it } from 'vitest';
import { PASSWORD, useAuthStack } from '../testing.ts';

const kit = useAuthStack();

describe('sign-out', () => {
	async function twoDevices() {
		const { client: first, email, user } = await kit.signedUp();
		const second = kit.anonClient();
		const { data, error } = await second.auth.signInWithPassword({ email, password: PASSWORD });
		expect(error).toBeNull();
		const firstSession = (await first.auth.getSession()).data.session!;
		return { first, second, firstSession, secondSession: data.session!, user };
	}

	it('local ends only this session', async () => {
		const { first, second, firstSession, secondSession } = await twoDevices();
		expect((await first.auth.signOut({ scope: 'local' })).error).toBeNull();
		expect((await first.auth.getSession()).data.session).toBeNull();
		const gone = await kit.anonClient().auth.getUser(firstSession.access_token);
		expect(gone.error?.name).toBe('AuthSessionMissingError');
		expect((await second.auth.getUser()).error).toBeNull();
		const refreshed = await kit
			.anonClient()
			.auth.refreshSession({ refresh_token: secondSession.refresh_token });
		expect(refreshed.error).toBeNull();
	});

	it('global ends every session and their refresh tokens', async () => {
		const { first, secondSession, user } = await twoDevices();
		expect((await first.auth.signOut()).error).toBeNull();
		const refreshed = await kit
			.anonClient()
			.auth.refreshSession({ refresh_token: secondSession.refresh_token });
		expect(refreshed.error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
		const { rows } = await kit.stack.db.query(
			'select count(*)::int as n from auth.sessions where user_id = $1',
			[user.id]
		);
		expect(rows[0].n).toBe(0);
	});

	it('others keeps only this session', async () => {
		const { first, secondSession, firstSession } = await twoDevices();
		expect((await first.auth.signOut({ scope: 'others' })).error).toBeNull();
		const other = await kit.anonClient().auth.refreshSession({ refresh_token: secondSession.refresh_token });
		expect(other.error).toMatchObject({ code: 'refresh_token_not_found' });
		expect((await kit.anonClient().auth.getUser(firstSession.access_token)).error).toBeNull();
	});

	it('answers 204 and refuses an unknown scope', async () => {
		const { session } = await kit.signedUp();
		const headers = { apikey: kit.stack.anonKey, authorization: `Bearer ${session.access_token}` };
		const bad = await fetch(`${kit.stack.apiUrl}/auth/v1/logout?scope=everything`, {
			method: 'POST',
			headers
		});
		expect(bad.status).toBe(400);
		const ok = await fetch(`${kit.stack.apiUrl}/auth/v1/logout?scope=local`, { method: 'POST', headers });
		expect(ok.status).toBe(204);
	});
});
