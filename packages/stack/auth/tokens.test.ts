/**
 * Tokens and the edges of the Auth API: access-token claims, forged and expired tokens, refresh
 * rotation with reuse detection, rate limits, request bodies, error shapes and the features the
 * embedded stack leaves out. Through the real supabase-js client where it has a call for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { startTestStack, type TestStack } from '../testing/index.ts';
import { loadConfig } from '../config.ts';
import { signJwt } from '../jwt.ts';

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

function anonClient(url = stack.apiUrl, key = stack.anonKey): SupabaseClient {
	return createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false } });
}

const newEmail = () => `user-${randomBytes(6).toString('hex')}@example.com`;
const PASSWORD = 'correct horse battery';

async function signedUp() {
	const client = anonClient();
	const email = newEmail();
	const { data, error } = await client.auth.signUp({ email, password: PASSWORD });
	expect(error).toBeNull();
	return { client, email, session: data.session!, user: data.user! };
}

function decode(token: string): Record<string, unknown> {
	return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** Raw GET /user with `token`, for the status and body GoTrue would answer. */
async function getUserRaw(token: string, legacy = false) {
	const response = await fetch(`${stack.apiUrl}/auth/v1/user`, {
		headers: {
			apikey: stack.anonKey,
			authorization: `Bearer ${token}`,
			...(legacy ? {} : { 'x-supabase-api-version': '2024-01-01' })
		}
	});
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('access tokens', () => {
	it("carry GoTrue's claims", async () => {
		const { session, user, email } = await signedUp();
		const claims = decode(session.access_token);
		const now = Math.floor(Date.now() / 1000);
		expect(claims).toMatchObject({
			iss: `${stack.apiUrl}/auth/v1`,
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
		const { rows } = await stack.db.query('select user_id from auth.sessions where id = $1', [
			claims.session_id
		]);
		expect(rows[0].user_id).toBe(user.id);
		expect(session.expires_at).toBe(claims.exp);
		const header = JSON.parse(Buffer.from(session.access_token.split('.')[0], 'base64url').toString());
		expect(header).toMatchObject({ alg: 'HS256', typ: 'JWT' });
	});

	it('are refused when signed with another secret, unsigned or edited', async () => {
		const { session } = await signedUp();
		const claims = decode(session.access_token);
		const client = anonClient();

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
		const { session } = await signedUp();
		const claims = decode(session.access_token);
		const hs512 = await new SignJWT(claims)
			.setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
			.sign(new TextEncoder().encode(stack.config.jwtSecret));
		const raw = await getUserRaw(hs512);
		expect(raw.status).toBe(403);
		expect(raw.body.code).toBe('bad_jwt');
	});

	it('are refused once expired', async () => {
		const { session } = await signedUp();
		const claims = decode(session.access_token);
		const past = Math.floor(Date.now() / 1000) - 120;
		const expired = await signJwt({ ...claims, iat: past - 3600, exp: past }, stack.config.jwtSecret);
		const { error } = await anonClient().auth.getUser(expired);
		expect(error).toMatchObject({ status: 403, code: 'bad_jwt' });
		expect(error!.message).toBe(
			'invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired'
		);
	});

	it('of a signed-out session answer session_not_found', async () => {
		const { client, session } = await signedUp();
		await client.auth.signOut();
		const raw = await getUserRaw(session.access_token);
		expect(raw).toEqual({
			status: 403,
			body: { code: 'session_not_found', message: 'Session from session_id claim in JWT does not exist' }
		});
	});

	it('must name a user: the anon key is not one', async () => {
		const raw = await getUserRaw(stack.anonKey, true);
		expect(raw).toEqual({
			status: 403,
			body: { code: 403, error_code: 'bad_jwt', msg: 'invalid claim: missing sub claim' }
		});
	});
});

describe('refresh tokens', () => {
	it('rotate, hand back the active token within the reuse interval, and end the session on later reuse', async () => {
		const { session } = await signedUp();
		const client = anonClient();
		const first = session.refresh_token;

		const second = await client.auth.refreshSession({ refresh_token: first });
		expect(second.error).toBeNull();
		const secondToken = second.data.session!.refresh_token;
		expect(secondToken).not.toBe(first);
		const chain = await stack.db.query(
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
		await stack.db.query(
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
		const { session } = await signedUp();
		const [a, b] = await Promise.all([
			anonClient().auth.refreshSession({ refresh_token: session.refresh_token }),
			anonClient().auth.refreshSession({ refresh_token: session.refresh_token })
		]);
		expect(a.error).toBeNull();
		expect(b.error).toBeNull();
		expect(a.data.session!.refresh_token).toBe(b.data.session!.refresh_token);
		const { rows } = await stack.db.query(
			'select count(*)::int as n from auth.refresh_tokens where session_id = $1 and not revoked',
			[decode(session.access_token).session_id]
		);
		expect(rows[0].n).toBe(1);
	});

	it('refuses unknown tokens', async () => {
		const { error } = await anonClient().auth.refreshSession({ refresh_token: 'nope-not-a-token' });
		expect(error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
	});
});

describe('requests', () => {
	it('answers malformed JSON with 400', async () => {
		const response = await fetch(`${stack.apiUrl}/auth/v1/signup`, {
			method: 'POST',
			headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
			body: '{"email": "a@b.co", '
		});
		expect(response.status).toBe(400);
		expect(await response.json()).toMatchObject({ code: 400, error_code: 'bad_json' });
	});

	it('answers a body over 1 MB with 413', async () => {
		const response = await fetch(`${stack.apiUrl}/auth/v1/signup`, {
			method: 'POST',
			headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
			body: JSON.stringify({
				email: newEmail(),
				password: PASSWORD,
				data: { blob: 'x'.repeat(2 * 1024 * 1024) }
			})
		});
		expect(response.status).toBe(413);
		expect(await response.json()).toMatchObject({ error_code: 'request_entity_too_large' });
	});

	it('serves settings, health and an empty JWKS', async () => {
		const get = (path: string) =>
			fetch(`${stack.apiUrl}/auth/v1${path}`, { headers: { apikey: stack.anonKey } }).then((r) => r.json());
		expect(await get('/settings')).toMatchObject({
			disable_signup: false,
			mailer_autoconfirm: true,
			external: { email: true, phone: false }
		});
		expect(await get('/health')).toMatchObject({ name: 'GoTrue' });
		expect(await get('/.well-known/jwks.json')).toEqual({ keys: [] });
	});

	it('answers unsupported features with a clear GoTrue-shaped error', async () => {
		const client = anonClient();
		const otp = await client.auth.signInWithOtp({ email: newEmail() });
		expect(otp.error).toMatchObject({ status: 400, code: 'feature_not_supported' });
		expect(otp.error!.message).toMatch(/not supported by the embedded Parley stack/);
		const reset = await client.auth.resetPasswordForEmail(newEmail());
		expect(reset.error).toMatchObject({ code: 'feature_not_supported' });
		const anonymous = await client.auth.signInAnonymously();
		expect(anonymous.error).toMatchObject({ status: 422, code: 'anonymous_provider_disabled' });
	});
});

describe('configuration', () => {
	it('rate-limits sign-ins per client address', async () => {
		const base = loadConfig();
		const limited = await startTestStack({
			config: { auth: { ...base.auth, rateLimit: { signInSignUps: 3, tokenRefresh: 3 } } }
		});
		try {
			const client = anonClient(limited.apiUrl, limited.anonKey);
			for (let i = 0; i < 3; i++) {
				const { error } = await client.auth.signInWithPassword({ email: newEmail(), password: PASSWORD });
				expect(error).toMatchObject({ status: 400, code: 'invalid_credentials' });
			}
			const { error } = await client.auth.signInWithPassword({ email: newEmail(), password: PASSWORD });
			expect(error).toMatchObject({ status: 429, code: 'over_request_rate_limit' });
		} finally {
			await limited.stop();
		}
	});

	it('refuses sign-ups when disabled', async () => {
		const base = loadConfig();
		const closed = await startTestStack({ config: { auth: { ...base.auth, enableSignup: false } } });
		try {
			const client = anonClient(closed.apiUrl, closed.anonKey);
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
			const anon = anonClient(open.apiUrl, open.anonKey);
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
			const signIn = await anonClient(open.apiUrl, open.anonKey).auth.signInWithPassword({
				email,
				password: PASSWORD
			});
			expect(signIn.error).toBeNull();
		} finally {
			await open.stop();
		}
	});
});
