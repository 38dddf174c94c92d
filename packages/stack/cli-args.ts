/**
 * The command line of `parley-stack`: which command, which project folder. Mistakes are a
 * UsageError, which the CLI prints as one line and ends with exit code 2.
 */
import { resolve } from 'node:path';

export type Command = 'start' | 'status' | 'db reset' | 'help';

export interface Invocation {
	command: Command;
	/** The project folder, the one holding `supabase/config.toml` (default: the current folder). */
	workdir: string;
}

export class UsageError extends Error {
	override name = 'UsageError';
}

export const USAGE = `Usage: parley-stack [command] [--workdir DIR]

Runs a Supabase project folder (supabase/config.toml, migrations, seed) on an embedded,
Docker-free stack: PostgreSQL 17, Auth, REST, Realtime and Storage behind one API URL.

Commands:
  start      start the stack in the foreground (the default); Ctrl-C stops it
  status     print the URLs and keys of the running stack
  db reset   drop and re-create the database, then apply migrations and seed (stack stopped)

Options:
  --workdir DIR  the project folder, holding supabase/config.toml (default: current folder)
  -h, --help     print this help`;

/** Reads `argv` (the arguments after the script), resolving the workdir against `cwd`. */
export function parseArgs(argv: string[], cwd = process.cwd()): Invocation {
	const words: string[] = [];
	let workdir = cwd;
	let help = false;
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === '-h' || arg === '--help') help = true;
		else if (arg === '--workdir' || arg.startsWith('--workdir=')) {
			const value = arg === '--workdir' ? argv[++i] : arg.slice('--workdir='.length);
			if (!value) throw new UsageError('--workdir needs a folder');
			workdir = resolve(cwd, value);
		} else if (arg.startsWith('-')) throw new UsageError(`unknown option "${arg}"`);
		else words.push(arg);
	}
	if (help) return { command: 'help', workdir };
	const said = words.join(' ');
	// `db-reset` is the older spelling (and the root package's `npm run db:reset`).
	const command = (
		{ '': 'start', start: 'start', status: 'status', 'db reset': 'db reset', 'db-reset': 'db reset' } as const
	)[said];
	if (!command) throw new UsageError(`unknown command "${said}": use start, status or db reset`);
	return { command, workdir };
}
