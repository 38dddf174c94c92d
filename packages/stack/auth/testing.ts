/**
 * What the Auth API's test files share: one test stack per file with the rate limits lifted (the
 * tests sign in far more often than a person would), clients made as a browser app makes them
 * (no storage, no timers), fresh users and a look inside access tokens. Not a test itself.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { createClient, type Session, type SupabaseClient, type User } from '@supabase/supabase-js';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config.ts';
import { startTestStack, type TestStack } from '../testing/index.ts';

export const PASSWORD = 'correct horse battery';

export const newEmail = () => `user-${randomBytes(6).toString('hex')}@example.com`;

/** A client of the API at `url` with `key`, without storage or timers. */
export function clientOf(url: string, key: string): SupabaseClient {
	return createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false } });
}

/** The claims of a JWT, unverified. */
export function decode(token: string): Record<string, unknown> {
	return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** The calling test file's stack and helpers on it. */
export interface AuthTestKit {
	/** The stack, once beforeAll has started it. */
	readonly stack: TestStack;
	anonClient(): SupabaseClient;
	serviceClient(): SupabaseClient;
	/** Signs a fresh user up (with `data` as its metadata) and returns its client, email and session. */
	signedUp(
		data?: Record<string, unknown>
	): Promise<{ client: SupabaseClient; email: string; session: Session; user: User }>;
}

/** Starts a stack for the calling test file (beforeAll) and stops it after (afterAll). */
export function useAuthStack(): AuthTestKit {
	let started: TestStack | undefined;
	beforeAll(async () => {
		const base = loadConfig();
		started = await startTestStack({
			config: { auth: { ...base.auth, rateLimit: { signInSignUps: 10_000, tokenRefresh: 10_000 } } }
		});
	});
	afterAll(async () => {
		await started?.stop();
	});
	const stack = () => {
		if (!started) throw new Error('the test stack is not started yet');
		return started;
	};
	const anonClient = () => clientOf(stack().apiUrl, stack().anonKey);
	return {
		get stack() {
			return stack();
		},
		anonClient,
		serviceClient: () => clientOf(stack().apiUrl, stack().serviceRoleKey),
		async signedUp(data = {}) {
			const signer = anonClient();
			const email = newEmail();
			const { data: result, error } = await signer.auth.signUp({
				email,
				password: PASSWORD,
				options: { data }
			});
			expect(error).toBeNull();
			return { client: signer, email, session: result.session!, user: result.user! };
		}
	};
}
