/**
 * A Supabase project folder as `supabase init` lays it out (`supabase/config.toml`,
 * `migrations/`, `seed.sql`, `functions/`): the check that a folder is one, and what the stack
 * cannot serve from it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { StackConfig } from './config.ts';
import { StackError } from './postgres.ts';

/** Throws a one-line StackError unless `workdir` holds a Supabase project. */
export function assertProject(workdir: string): void {
	if (!existsSync(workdir) || !statSync(workdir).isDirectory())
		throw new StackError(`${workdir} is not a folder: pass the project folder with --workdir DIR.`);
	if (!existsSync(join(workdir, 'supabase/config.toml')))
		throw new StackError(
			`${workdir} holds no Supabase project (no supabase/config.toml): run \`npx supabase init\` there, or pass the project folder with --workdir DIR.`
		);
}

/**
 * The project's Edge Functions: the folders of `supabase/functions` but those whose name starts
 * with `_` (shared code, by the Supabase CLI's convention).
 */
export function edgeFunctions(config: Pick<StackConfig, 'functionsDir'>): string[] {
	if (!existsSync(config.functionsDir)) return [];
	return readdirSync(config.functionsDir, { withFileTypes: true })
		.filter((entry) => entry.isDirectory() && !entry.name.startsWith('_'))
		.map((entry) => entry.name)
		.sort();
}
