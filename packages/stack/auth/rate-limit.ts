/**
 * Per-client-address request limits, as GoTrue applies to sign-in, sign-up and refresh:
 * at most `limit` requests per `windowMs` (a fixed window per address, GoTrue counts per
 * 5 minutes), one limiter per kind, and the `rateLimited` wrapper routes put where a request
 * starts to count. Kept in memory: the embedded stack is one process.
 */
import type { StackConfig } from '../config.ts';
import type { AuthRequest } from './context.ts';
import { AuthError } from './errors.ts';
import type { Handler } from './router.ts';

/** A fixed-window counter keyed by client address. */
export class RateLimiter {
	readonly limit: number;
	readonly windowMs: number;
	readonly #windows = new Map<string, { start: number; count: number }>();

	constructor(limit: number, windowMs = 5 * 60_000) {
		this.limit = limit;
		this.windowMs = windowMs;
	}

	/** Counts one request from `key`; false when it is over the limit. */
	take(key: string, now = Date.now()): boolean {
		let window = this.#windows.get(key);
		if (!window || now - window.start >= this.windowMs) {
			window = { start: now, count: 0 };
			this.#windows.set(key, window);
			// Forget stale windows now and then so the map cannot grow without bound.
			if (this.#windows.size > 10_000) this.#sweep(now);
		}
		if (window.count >= this.limit) return false;
		window.count++;
		return true;
	}

	#sweep(now: number): void {
		for (const [key, window] of this.#windows) {
			if (now - window.start >= this.windowMs) this.#windows.delete(key);
		}
	}
}

/** What a limit counts: sign-ins and sign-ups share one budget, refreshes have their own. */
export type LimitKind = 'signIn' | 'refresh';
export type Limiters = Record<LimitKind, RateLimiter>;

/** The limiters of one Auth service, sized by `[auth.rate_limit]`. */
export function createLimiters(config: StackConfig): Limiters {
	const rateLimit = config.auth.rateLimit ?? { signInSignUps: 30, tokenRefresh: 150 };
	return {
		signIn: new RateLimiter(rateLimit.signInSignUps),
		refresh: new RateLimiter(rateLimit.tokenRefresh)
	};
}

/** Counts the request against its address's `kind` budget before `next`; 429 once it is spent. */
export function rateLimited<R extends AuthRequest>(kind: LimitKind, next: Handler<R>): Handler<R> {
	return async (r) => {
		if (!r.auth.limiters[kind].take(r.client.ip ?? 'unknown')) {
			throw new AuthError(429, 'over_request_rate_limit', 'Request rate limit reached');
		}
		return next(r);
	};
}
