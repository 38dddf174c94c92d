import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './testing/index.ts';
import { lineOf, listMigrations, migrate, MigrationError } from './migrations.ts';

let database: TestDatabase;
let dir: string;

beforeEach(async () => {
	database = await createTestDatabase('platform');
	dir = mkdtempSync(join(tmpdir(), 'parley-migrations-'));
	mkdirSync(join(dir, 'migrations'));
});
afterEach(async () => {
	await database.drop();
	rmSync(dir, { recursive: true, force: true });
});

function write(name: string, sql: string) {
	writeFileSync(join(dir, 'migrations', name), sql);
}

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
	const client = new pg.Client({ connectionString: database.url });
	await client.connect();
	try {
		return (await client.query<T>(sql)).rows;
	} finally {
		await client.end();
	}
}

describe('migrations runner', () => {
	test('applies files in version order, once, recording them as the Supabase CLI does', async () => {
		write('20240102000000_second.sql', `insert into public.log (step) values ('second');`);
		write('20240101000000_first.sql', `create table public.log (n serial primary key, step text);`);
		write('20240103000000_third.sql', `insert into public.log (step) values ('third');`);
		write('README.md', 'not a migration');
		expect(listMigrations(join(dir, 'migrations')).map((m) => m.version)).toEqual([
			'20240101000000',
			'20240102000000',
			'20240103000000'
		]);

		const first = await migrate(database.url, { migrationsDir: join(dir, 'migrations') });
		expect(first.applied).toEqual([
			'20240101000000_first.sql',
			'20240102000000_second.sql',
			'20240103000000_third.sql'
		]);
		const again = await migrate(database.url, { migrationsDir: join(dir, 'migrations') });
		expect(again.applied).toEqual([]);

		expect(await query('select step from public.log order by n')).toEqual([
			{ step: 'second' },
			{ step: 'third' }
		]);
		expect(
			await query('select version, name from supabase_migrations.schema_migrations order by version')
		).toEqual([
			{ version: '20240101000000', name: 'first' },
			{ version: '20240102000000', name: 'second' },
			{ version: '20240103000000', name: 'third' }
		]);
	});

	test('a broken migration is reported with file, line and message, and rolled back', async () => {
		write('20240101000000_good.sql', 'create table public.kept (id int);');
		write(
			'20240102000000_broken.sql',
			[
				'create table public.half_done (id int);',
				'',
				'insert into public.half_done values (1);',
				'selec 1;'
			].join('\n')
		);
		write('20240103000000_after.sql', 'create table public.never (id int);');

		const error = await migrate(database.url, { migrationsDir: join(dir, 'migrations') }).catch((e) => e);
		expect(error).toBeInstanceOf(MigrationError);
		expect(error.file).toBe('20240102000000_broken.sql');
		expect(error.line).toBe(4);
		expect(error.message).toMatch(
			/20240102000000_broken\.sql line 4 failed: syntax error at or near "selec"/
		);

		const tables = await query<{ table_name: string }>(
			`select table_name from information_schema.tables where table_schema = 'public' order by 1`
		);
		expect(tables.map((t) => t.table_name)).toEqual(['kept']);
		expect(await query('select version from supabase_migrations.schema_migrations')).toEqual([
			{ version: '20240101000000' }
		]);
	});

	test('the seed runs once, on a fresh database, after the migrations', async () => {
		write('20240101000000_people.sql', 'create table public.people (name text);');
		const seedPaths = [join(dir, 'seed.sql')];
		writeFileSync(seedPaths[0], `insert into public.people values ('ada');`);
		const fresh = await migrate(database.url, { migrationsDir: join(dir, 'migrations'), seedPaths });
		expect(fresh.seeded).toEqual([relative(dirname(dir), seedPaths[0])]);
		write('20240102000000_more.sql', 'alter table public.people add column age int;');
		const later = await migrate(database.url, { migrationsDir: join(dir, 'migrations'), seedPaths });
		expect(later).toEqual({ applied: ['20240102000000_more.sql'], seeded: [] });
		expect(await query('select name from public.people')).toEqual([{ name: 'ada' }]);
	});

	test('seed globs run in name order, each file once; missing files are skipped', async () => {
		write('20240101000000_people.sql', 'create table public.people (n serial, name text);');
		mkdirSync(join(dir, 'seeds'));
		writeFileSync(join(dir, 'seeds/2_grace.sql'), `insert into public.people (name) values ('grace');`);
		writeFileSync(join(dir, 'seeds/1_ada.sql'), `insert into public.people (name) values ('ada');`);
		const result = await migrate(database.url, {
			migrationsDir: join(dir, 'migrations'),
			seedPaths: [join(dir, 'seeds/1_ada.sql'), join(dir, 'seeds/*.sql'), join(dir, 'missing.sql')]
		});
		expect(result.seeded.map((f) => basename(f))).toEqual(['1_ada.sql', '2_grace.sql']);
		expect(await query('select name from public.people order by n')).toEqual([
			{ name: 'ada' },
			{ name: 'grace' }
		]);
	});

	test('migrations: false applies none', async () => {
		write('20240101000000_people.sql', 'create table public.people (name text);');
		const result = await migrate(database.url, { migrationsDir: join(dir, 'migrations'), migrations: false });
		expect(result.applied).toEqual([]);
	});

	test('lineOf maps a Postgres error position to a line', () => {
		expect(lineOf('a\nbb\nccc', 4)).toBe(2);
		expect(lineOf('abc', undefined)).toBeUndefined();
	});
});
