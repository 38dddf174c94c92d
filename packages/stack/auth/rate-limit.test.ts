/** The per-address fixed-window limiter, with explicit clock values, and a limited route. */
import { describe, expect, it } from 'vitest';
import { startTestStack } from '../testing/index.ts';
import { loadConfig } from '../config.ts';
import { RateLimiter } from './rate-limit.ts';
import { clientOf, newEmail, PASSWORD } from './testing.ts';

describe('RateLimiter', () => {
	it('allows `limit` requests per window and per address, then again in the next window', () => {
		const limiter = new RateLimiter(2, 1000);
		expect([limiter.take('a', 0), limiter.take('a', 10), limiter.take('a', 20)]).toEqual([true, true, false]);
		expect(limiter.take('b', 30)).toBe(true);
		expect(limiter.take('a', 999)).toBe(false);
		expect(limiter.take('a', 1000)).toBe(true);
	});
});

describe('configuration', () => {
	it('rate-limits sign-ins per client address', async () => {
		const base = loadConfig();
		const limited = await startTestStack({
			config: { auth: { ...base.auth, rateLimit: { signInSignUps: 3, tokenRefresh: 3 } } }
		});
		try {
			const client = clientOf(limited.apiUrl, limited.anonKey);
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
});
