/** Structured logs: one JSON object per line and event, on stdout. */
import type { Logger, LogLevel } from '../supabase/functions/_shared/delivery.ts';

export type { Logger, LogLevel };

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger writing `{time, level, event, ...fields}` lines to `write` (stdout by default), from
 * `minLevel` up (default: `PARLEY_WORKER_LOG_LEVEL`, else info; each sent push is a debug event).
 */
export function createLogger(
	base: Record<string, unknown> = {},
	write: (line: string) => void = (line) => process.stdout.write(line),
	minLevel: LogLevel = (process.env.PARLEY_WORKER_LOG_LEVEL as LogLevel | undefined) ?? 'info'
): Logger {
	const min = RANK[minLevel] ?? RANK.info;
	return (event, fields = {}, level = 'info') => {
		if (RANK[level] < min) return;
		write(JSON.stringify({ time: new Date().toISOString(), level, event, ...base, ...fields }) + '\n');
	};
}

/** A logger that drops everything (benchmarks). */
export const silentLogger: Logger = () => {};
