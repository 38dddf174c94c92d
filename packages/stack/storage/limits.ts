/**
 * Upload limits: sizes as Supabase writes them, and bucket MIME type rules. (The global cap is
 * the stack config's `storage.fileSizeLimit`, parsed with parseSize.)
 */
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
