/**
 * `parley-stack` run on a Supabase project that knows nothing of Parley: an empty folder holding
 * only what `supabase init` lays out (config.toml, a migration with row-level security, a seed,
 * a function), started with `--workdir` from another folder, and the unmodified supabase-js
 * client against it: Auth, REST under RLS, a Realtime broadcast round trip; then `status`,
 * `db reset` and the one-line errors for a folder that is not a project.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ANON_KEY, DEFAULT_SERVICE_ROLE_KEY } from './keys.ts';
import { freePort } from './testing/free-port.ts';
import { cleanEnv, runCli, startCli, stopCli } from './testing/cli.ts';

let elsewhere: string;
let project: string;
let apiUrl: string;
const env = cleanEnv();
const clients: SupabaseClient[] = [];

function write(path: string, text: string) {
	mkdirSync(join(project, path, '..'), { recursive: true });
	writeFileSync(join(project, path), text);
}

beforeAll(async () => {
	elsewhere = mkdtempSync(join(tmpdir(), 'parley-cli-cwd-'));
	project = mkdtempSync(join(tmpdir(), 'parley-cli-project-'));
	const [api, db] = [await freePort(), await freePort()];
	apiUrl = `http://127.0.0.1:${api}`;
	write(
		'supabase/config.toml',
		`project_id = "notes"
[api]
port = ${api}
schemas = ["public"]
max_rows = 100
[db]
port = ${db}
[db.seed]
enabled = true
sql_paths = ["./seed.sql"]
[auth]
site_url = "http://127.0.0.1:3000"
enable_signup = true
`
	);
	write(
		'supabase/migrations/20250101000000_notes.sql',
		`create table public.notes (
	id bigint generated always as identity primary key,
	owner uuid not null default auth.uid() references auth.users on delete cascade,
	body text not null
);
alter table public.notes enable row level security;
create policy "own notes: read" on public.notes for select to authenticated using (owner = auth.uid());
create policy "own notes: write" on public.notes for insert to authenticated with check (owner = auth.uid());

create table public.tips (id int primary key, text text not null);
alter table public.tips enable row level security;
create policy "tips are public" on public.tips for select using (true);`
	);
	write('supabase/seed.sql', `insert into public.tips values (1, 'write things down'), (2, 'sleep on it');`);
	write('supabase/functions/hello/index.ts', 'Deno.serve(() => new Response("hello"));');
});
afterAll(async () => {
	await Promise.all(clients.map((c) => c.removeAllChannels()));
	rmSync(project, { recursive: true, force: true });
	rmSync(elsewhere, { recursive: true, force: true });
});

function client(key = DEFAULT_ANON_KEY): SupabaseClient {
	const c = createClient(apiUrl, key, { auth: { persistSession: false, autoRefreshToken: false } });
	clients.push(c);
	return c;
}

async function signUp(name: string): Promise<SupabaseClient> {
	const c = client();
	const { error } = await c.auth.signUp({ email: `${name}@example.test`, password: 'a-long-password-1' });
	if (error) throw error;
	await c.realtime.setAuth();
	return c;
}

async function tips(): Promise<string[]> {
	const { data, error } = await client().from('tips').select('text').order('id');
	if (error) throw error;
	return data.map((t) => t.text);
}

describe('parley-stack on a plain Supabase project', () => {
	test(
		'start, supabase-js (Auth, REST under RLS, Realtime), status, db reset',
		{ timeout: 120_000 },
		async () => {
			const started = await startCli(['--workdir', project], { cwd: elsewhere, env });
			try {
				const output = started.output();
				expect(output).toContain('migration applied: 20250101000000_notes.sql');
				expect(output).toContain('seed applied: supabase/seed.sql');
				expect(output).toMatch(/Edge Functions are not served yet \(hello\): \/functions\/v1 answers 501/);
				expect(output).toContain(`API URL: ${apiUrl}`);
				// The data folder is the project's `.stack/data`, kept out of git by itself.
				expect(existsSync(join(project, '.stack/data/PG_VERSION'))).toBe(true);
				expect(readFileSync(join(project, '.stack/.gitignore'), 'utf8')).toContain('*');

				const ada = await signUp('ada');
				const bob = await signUp('bob');
				expect((await ada.from('notes').insert({ body: 'ada only' })).error).toBeNull();
				expect((await ada.from('notes').select('body')).data).toEqual([{ body: 'ada only' }]);
				expect((await bob.from('notes').select('body')).data).toEqual([]);
				const forged = await bob
					.from('notes')
					.insert({ body: 'as ada', owner: (await ada.auth.getUser()).data.user!.id });
				expect(forged.error?.code).toBe('42501');
				expect(await tips()).toEqual(['write things down', 'sleep on it']);

				const received: unknown[] = [];
				const listening = bob
					.channel('room')
					.on('broadcast', { event: 'wave' }, (m) => received.push(m.payload));
				const sending = ada.channel('room');
				await Promise.all(
					[listening, sending].map(
						(ch) =>
							new Promise<void>((resolve, reject) =>
								ch.subscribe((status, error) =>
									status === 'SUBSCRIBED'
										? resolve()
										: status !== 'CLOSED' && reject(error ?? new Error(status))
								)
							)
					)
				);
				expect(await sending.send({ type: 'broadcast', event: 'wave', payload: { from: 'ada' } })).toBe('ok');
				for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
				expect(received).toEqual([{ from: 'ada' }]);

				const functions = await fetch(`${apiUrl}/functions/v1/hello`, {
					headers: { apikey: DEFAULT_ANON_KEY }
				});
				expect(functions.status).toBe(501);

				const status = await runCli(['status', '--workdir', project], { cwd: elsewhere, env });
				expect(status.code).toBe(0);
				expect(status.stdout).toContain(`REST URL: ${apiUrl}/rest/v1`);
				expect(status.stdout).toContain(`anon key: ${DEFAULT_ANON_KEY}`);
				expect(status.stdout).toContain(`service_role key: ${DEFAULT_SERVICE_ROLE_KEY}`);

				// Change the seeded rows, so the reset can be seen to bring them back.
				expect((await client(DEFAULT_SERVICE_ROLE_KEY).from('tips').delete().eq('id', 2)).error).toBeNull();
				const busy = await runCli(['db', 'reset', '--workdir', project], { cwd: elsewhere, env });
				expect(busy.code).toBe(1);
				expect(busy.stderr.trim()).toMatch(
					/^error: the stack is running on port \d+: stop it \(Ctrl-C\) first/
				);
			} finally {
				expect(await stopCli(started.child)).toBe(0);
			}

			const stopped = await runCli(['status'], { cwd: project, env });
			expect(stopped.code).toBe(1);
			expect(stopped.stderr.trim()).toBe(
				`error: no stack is running on ${apiUrl}: start it with \`parley-stack start\`.`
			);

			const reset = await runCli(['db', 'reset'], { cwd: project, env });
			expect(reset.code).toBe(0);
			expect(reset.stdout).toContain(
				'database reset: 1 migrations applied, seed applied (supabase/seed.sql)'
			);
			const again = await startCli([], { cwd: project, env });
			try {
				expect(await tips()).toEqual(['write things down', 'sleep on it']);
				const service = client(DEFAULT_SERVICE_ROLE_KEY);
				expect((await service.from('notes').select('id')).data).toEqual([]);
			} finally {
				expect(await stopCli(again.child)).toBe(0);
			}
		}
	);

	test('a folder that is not a project, a mistaken command: one line and an exit code', async () => {
		const none = await runCli(['start', '--workdir', elsewhere], { cwd: project, env });
		expect(none.code).toBe(1);
		expect(none.stderr.trim()).toBe(
			`error: ${elsewhere} holds no Supabase project (no supabase/config.toml): run \`npx supabase init\` there, or pass the project folder with --workdir DIR.`
		);
		const missing = await runCli(['status', '--workdir', join(elsewhere, 'nope')], { cwd: project, env });
		expect(missing.code).toBe(1);
		expect(missing.stderr.trim()).toMatch(/^error: .*nope is not a folder/);
		const unknown = await runCli(['stop'], { cwd: project, env });
		expect(unknown.code).toBe(2);
		expect(unknown.stderr.trim()).toBe(
			'error: unknown command "stop": use start, status or db reset (parley-stack --help)'
		);
		const help = await runCli(['--help'], { cwd: elsewhere, env });
		expect(help.code).toBe(0);
		expect(help.stdout).toMatch(/^Usage: parley-stack/);
	});
});
