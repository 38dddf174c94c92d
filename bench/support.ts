/** Shared measuring helpers for the benchmarks. */

/** p-th percentile (0..100) of `samples` (milliseconds). */
export function percentile(samples: number[], p: number): number {
	if (samples.length === 0) return NaN;
	const sorted = [...samples].sort((a, b) => a - b);
	const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return sorted[index];
}

/** Formats a row of figures for the console. */
export function report(name: string, figures: Record<string, number | string>): void {
	const parts = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : v}`);
	console.log(`${name.padEnd(48)} ${parts.join('  ')}`);
}

function round(v: number): string {
	return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** Runs `task` with `concurrency` workers for `durationMs`; returns latencies (ms) and ops/s. */
export async function load(
	task: () => Promise<unknown>,
	{ concurrency, durationMs }: { concurrency: number; durationMs: number }
): Promise<{ latencies: number[]; perSecond: number }> {
	const latencies: number[] = [];
	const end = performance.now() + durationMs;
	const start = performance.now();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (performance.now() < end) {
				const t = performance.now();
				await task();
				latencies.push(performance.now() - t);
			}
		})
	);
	return { latencies, perSecond: latencies.length / ((performance.now() - start) / 1000) };
}
