/** The per-address fixed-window limiter, with explicit clock values. */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.ts';

describe('RateLimiter', () => {
	it('allows `limit` requests per window and per address, then again in the next window', () => {
		const limiter = new RateLimiter(2, 1000);
		expect([limiter.take('a', 0), limiter.take('a', 10), limiter.take('a', 20)]).toEqual([true, true, false]);
		expect(limiter.take('b', 30)).toBe(true);
		expect(limiter.take('a', 999)).toBe(false);
		expect(limiter.take('a', 1000)).toBe(true);
	});
});
