/** Writes or reuses the project's `.env` with the variables the app reads. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { databaseUrl, type StackConfig } from './config.ts';

/** The variables the app needs to reach this stack. */
export function stackEnv(config: StackConfig, apiUrl: string): Record<string, string> {
	return {
		PUBLIC_SUPABASE_URL: apiUrl,
		PUBLIC_SUPABASE_ANON_KEY: config.anonKey,
		SUPABASE_SERVICE_ROLE_KEY: config.serviceRoleKey,
		DATABASE_URL: databaseUrl(config)
	};
}

/** Parses `KEY=value` lines (quotes stripped). */
export function parseEnv(text: string): Record<string, string> {
	const out: Record<string, string> = {};
	for (const line of text.split('\n')) {
		const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
		if (m) out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
	}
	return out;
}

/**
 * Adds the stack's variables to `.env` where they are missing; values already there are kept,
 * so a `.env` pointing at hosted Supabase is never overwritten.
 */
export function ensureEnvFile(
	root: string,
	values: Record<string, string>
): { path: string; added: string[] } {
	const path = join(root, '.env');
	const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
	const present = parseEnv(existing);
	const added = Object.keys(values).filter((k) => !(k in present));
	if (added.length) {
		const prefix = existing && !existing.endsWith('\n') ? '\n' : '';
		const header = existing
			? ''
			: '# Written by `npm run dev` for the embedded stack. Point these at hosted Supabase to use it instead.\n';
		writeFileSync(path, existing + prefix + header + added.map((k) => `${k}=${values[k]}`).join('\n') + '\n');
	}
	return { path, added };
}
