/**
 * Per-client-address request limits, as GoTrue applies to sign-in, sign-up and refresh:
 * at most `limit` requests per `windowMs` (a fixed window per address, GoTrue counts per
 * 5 minutes). Kept in memory: the embedded stack is one process.
 */

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
