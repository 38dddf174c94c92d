/**
 * Access and refresh tokens: the claims an access token carries, the forged, expired and
 * signed-out tokens requireUser refuses, and refresh rotation with reuse detection. Through the
 * real supabase-js client where it has a call for it.
 */
import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { signJwt } from '../jwt.ts';
import { decode, useAuthStack } from './testing.ts';

const kit = useAuthStack();

/** Raw GET /user with `token`, for the status and body GoTrue would answer. */
async function getUserRaw(token: string, legacy = false) {
	const response = await fetch(`${kit.stack.apiUrl}/auth/v1/user`, {
		headers: {
			apikey: kit.stack.anonKey,
			authorization: `Bearer ${token}`,
			...(legacy ? {} : { 'x-supabase-api-version': '2024-01-01' })
		}
	});
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('access tokens', () => {
	it("carry GoTrue's claims", async () => {
		const { session, user, email } = await kit.signedUp();
		const claims = decode(session.access_token);
		const now = Math.floor(Date.now() / 1000);
		expect(claims).toMatchObject({
			iss: `${kit.stack.apiUrl}/auth/v1`,
			sub: user.id,
			aud: 'authenticated',
			email,
			phone: '',
			role: 'authenticated',
			aal: 'aal1',
			is_anonymous: false,
			app_metadata: { provider: 'email', providers: ['email'] },
			user_metadata: { email, email_verified: true }
		});
		expect(claims.exp).toBe((claims.iat as number) + 3600);
		expect(Math.abs((claims.iat as number) - now)).toBeLessThan(60);
		expect(claims.amr).toEqual([{ method: 'password', timestamp: expect.any(Number) }]);
		const { rows } = await kit.stack.db.query('select user_id from auth.sessions where id = $1', [
			claims.session_id
		]);
		expect(rows[0].user_id).toBe(user.id);
		expect(session.expires_at).toBe(claims.exp);
		const header = JSON.parse(Buffer.from(session.access_token.split('.')[0], 'base64url').toString());
		expect(header).toMatchObject({ alg: 'HS256', typ: 'JWT' });
	});

	it('are refused when signed with another secret, unsigned or edited', async () => {
		const { session } = await kit.signedUp();
		const claims = decode(session.access_token);
		const client = kit.anonClient();

		const otherSecret = await signJwt(claims, 'a-completely-different-secret-of-32-chars!');
		const [header, , signature] = session.access_token.split('.');
		const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${session.access_token.split('.')[1]}.`;
		const edited = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'service_role' })).toString('base64url')}.${signature}`;

		for (const forged of [otherSecret, none, edited]) {
			const { data, error } = await client.auth.getUser(forged);
			expect(data.user).toBeNull();
			expect(error).toMatchObject({ status: 403, code: 'bad_jwt' });
		}
		const raw = await getUserRaw(none);
		expect(raw.body.message).toMatch(/^invalid JWT: unable to parse or verify signature, /);
		// The genuine token still works.
		expect((await client.auth.getUser(session.access_token)).error).toBeNull();
	});

	it('are refused with another algorithm, even with the right secret', async () => {
		const { session } = await kit.signedUp();
		const claims = decode(session.access_token);
		const hs512 = await new SignJWT(claims)
			.setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
			.sign(new TextEncoder().encode(kit.stack.config.jwtSecret));
		const raw = await getUserRaw(hs512);
		expect(raw.status).toBe(403);
		expect(raw.body.code).toBe('bad_jwt');
	});

	it('are refused once expired', async () => {
		const { session } = await kit.signedUp();
		const claims = decode(session.access_token);
		const past = Math.floor(Date.now() / 1000) - 120;
		const expired = await signJwt({ ...claims, iat: past - 3600, exp: past }, kit.stack.config.jwtSecret);
		const { error } = await kit.anonClient().auth.getUser(expired);
		expect(error).toMatchObject({ status: 403, code: 'bad_jwt' });
		expect(error!.message).toBe(
			'invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired'
		);
	});

	it('of a signed-out session answer session_not_found', async () => {
		const { client, session } = await kit.signedUp();
		await client.auth.signOut();
		const raw = await getUserRaw(session.access_token);
		expect(raw).toEqual({
			status: 403,
			body: { code: 'session_not_found', message: 'Session from session_id claim in JWT does not exist' }
		});
	});

	it('must name a user: the anon key is not one', async () => {
		const raw = await getUserRaw(kit.stack.anonKey, true);
		expect(raw).toEqual({
			status: 403,
			body: { code: 403, error_code: 'bad_jwt', msg: 'invalid claim: missing sub claim' }
		});
	});
});

describe('refresh tokens', () => {
	it('rotate, hand back the active token within the reuse interval, and end the session on later reuse', async () => {
		const { session } = await kit.signedUp();
		const client = kit.anonClient();
		const first = session.refresh_token;

		const second = await client.auth.refreshSession({ refresh_token: first });
		expect(second.error).toBeNull();
		const secondToken = second.data.session!.refresh_token;
		expect(secondToken).not.toBe(first);
		const chain = await kit.stack.db.query(
			'select token, parent, revoked from auth.refresh_tokens where session_id = $1 order by id',
			[decode(session.access_token).session_id]
		);
		expect(chain.rows).toEqual([
			{ token: first, parent: null, revoked: true },
			{ token: secondToken, parent: first, revoked: false }
		]);

		// Within refresh_token_reuse_interval (10 s): a client that lost the answer gets the active token.
		const retried = await client.auth.refreshSession({ refresh_token: first });
		expect(retried.error).toBeNull();
		expect(retried.data.session!.refresh_token).toBe(secondToken);

		const third = await client.auth.refreshSession({ refresh_token: secondToken });
		expect(third.error).toBeNull();
		const thirdSession = third.data.session!;

		// Past the interval, a spent token is taken as stolen: the whole session ends.
		await kit.stack.db.query(
			"update auth.refresh_tokens set updated_at = now() - interval '1 hour' where token = $1",
			[first]
		);
		const reused = await client.auth.refreshSession({ refresh_token: first });
		expect(reused.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' });
		const afterTheft = await client.auth.refreshSession({ refresh_token: thirdSession.refresh_token });
		expect(afterTheft.error).toMatchObject({ status: 400 });
		expect((await getUserRaw(thirdSession.access_token)).body.code).toBe('session_not_found');
	});

	it('serialise concurrent refreshes of one token onto the same child', async () => {
		const { session } = await kit.signedUp();
		const [a, b] = await Promise.all([
			kit.anonClient().auth.refreshSession({ refresh_token: session.refresh_token }),
			kit.anonClient().auth.refreshSession({ refresh_token: session.refresh_token })
		]);
		expect(a.error).toBeNull();
		expect(b.error).toBeNull();
		expect(a.data.session!.refresh_token).toBe(b.data.session!.refresh_token);
		const { rows } = await kit.stack.db.query(
			'select count(*)::int as n from auth.refresh_tokens where session_id = $1 and not revoked',
			[decode(session.access_token).session_id]
		);
		expect(rows[0].n).toBe(1);
	});

	it('refuses unknown tokens', async () => {
		const { error } = await kit.anonClient().auth.refreshSession({ refresh_token: 'nope-not-a-token' });
		expect(error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
	});
});
