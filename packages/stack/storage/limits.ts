/** Upload limits: sizes as Supabase writes them, the global cap, and bucket MIME type rules. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { StackConfig } from '../config.ts';
import { ERRORS } from './errors.ts';

const UNITS: Record<string, number> = {
	'': 1,
	b: 1,
	kb: 1e3,
	mb: 1e6,
	gb: 1e9,
	kib: 1024,
	mib: 1024 ** 2,
	gib: 1024 ** 3
};

/**
 * A size in bytes from a number or a string such as `20MB` (decimal units, as Supabase Storage
 * reads bucket limits) or `50MiB` (binary units, as `supabase/config.toml` writes them).
 * Null for null/undefined; throws InvalidRequest for anything else.
 */
export function parseSize(value: unknown): number | null {
	if (value === null || value === undefined) return null;
	if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
	if (typeof value === 'string') {
		const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(value);
		if (m) return Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
	}
	throw ERRORS.invalidRequest('Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B');
}

/**
 * The global upload cap in bytes: `PARLEY_STORAGE_MAX_BYTES`, else `[storage] file_size_limit`
 * of `supabase/config.toml`, else 50 MiB (the Supabase CLI's default).
 */
export function globalMaxBytes(config: StackConfig, env: NodeJS.ProcessEnv = process.env): number {
	const fallback = 50 * 1024 ** 2;
	try {
		if (env.PARLEY_STORAGE_MAX_BYTES) return parseSize(env.PARLEY_STORAGE_MAX_BYTES) ?? fallback;
		const tomlPath = resolve(config.root, 'supabase/config.toml');
		if (!existsSync(tomlPath)) return fallback;
		const storage = (parseToml(readFileSync(tomlPath, 'utf8')) as { storage?: { file_size_limit?: unknown } })
			.storage;
		return parseSize(storage?.file_size_limit) ?? fallback;
	} catch {
		return fallback;
	}
}

/**
 * Checks `mimeType` against a bucket's allowed types (`image/png`, or `image/*` for a family),
 * as Supabase Storage does, ignoring parameters such as `;charset=UTF-8`.
 */
export function checkMimeType(mimeType: string, allowed: string[] | null | undefined): void {
	if (!allowed || allowed.length === 0) return;
	const [type, subtype] = mimeType.split(';')[0].trim().toLowerCase().split('/');
	if (subtype) {
		for (const entry of allowed) {
			const [t, s] = entry.trim().toLowerCase().split('/');
			if (t === type && (s === '*' || s === subtype)) return;
		}
	}
	throw ERRORS.invalidMimeType(mimeType);
}
