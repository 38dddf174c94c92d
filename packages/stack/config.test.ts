/** The typed stack configuration: config.toml and PARLEY_* variables, section by section. */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ConfigError, DEFAULT_ANON_KEY, loadConfig } from './config.ts';

let root: string;
beforeEach(() => {
	root = mkdtempSync(join(tmpdir(), 'parley-config-'));
	mkdirSync(join(root, 'supabase'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function toml(text: string) {
	writeFileSync(join(root, 'supabase/config.toml'), text);
}

describe('loadConfig', () => {
	test('without config.toml or variables: the Supabase CLI defaults', () => {
		const config = loadConfig(root, {});
		expect(config).toMatchObject({
			projectId: basename(root),
			supabaseDir: join(root, 'supabase'),
			dataDir: join(root, '.stack/data'),
			apiPort: 54321,
			dbPort: 54322,
			anonKey: DEFAULT_ANON_KEY,
			schemas: ['public'],
			maxRows: 1000,
			rest: { maxBodyBytes: 4 * 1024 ** 2, pipelineDepth: 2 },
			realtime: { privateOnly: false },
			storage: { fileSizeLimit: 50 * 1024 ** 2 },
			sched: { batch: true },
			migrationsDir: join(root, 'supabase/migrations'),
			migrationsEnabled: true,
			seedEnabled: true,
			seedPaths: [join(root, 'supabase/seed.sql')],
			functionsDir: join(root, 'supabase/functions')
		});
		expect(config.rest.poolSize).toBeGreaterThanOrEqual(4);
	});

	test('reads the sections of a supabase init config.toml', () => {
		toml(`project_id = "shop"
[api]
port = 6001
schemas = ["public", "shop"]
extra_search_path = ["public"]
max_rows = 50
[db]
port = 6002
[db.migrations]
enabled = false
[db.seed]
enabled = false
sql_paths = ["./seeds/*.sql", "extra.sql"]
[auth]
site_url = "http://localhost:4000"
jwt_expiry = 600
enable_signup = false
minimum_password_length = 10
[auth.rate_limit]
sign_in_sign_ups = 7
[storage]
file_size_limit = "5MiB"
`);
		const config = loadConfig(root, {});
		expect(config).toMatchObject({
			projectId: 'shop',
			apiPort: 6001,
			dbPort: 6002,
			schemas: ['public', 'shop'],
			extraSearchPath: ['public'],
			maxRows: 50,
			jwtExpiry: 600,
			auth: {
				siteUrl: 'http://localhost:4000',
				enableSignup: false,
				minimumPasswordLength: 10,
				rateLimit: { signInSignUps: 7, tokenRefresh: 150 }
			},
			storage: { fileSizeLimit: 5 * 1024 ** 2 },
			migrationsEnabled: false,
			seedEnabled: false,
			seedPaths: [join(root, 'supabase/seeds/*.sql'), join(root, 'supabase/extra.sql')]
		});
	});

	test('PARLEY_* variables win over the file and set what it has no key for', () => {
		toml('[api]\nport = 6001\n[storage]\nfile_size_limit = "5MiB"\n');
		const config = loadConfig(root, {
			PARLEY_API_PORT: '7001',
			PARLEY_DB_PORT: '7002',
			PARLEY_DATA_DIR: 'elsewhere',
			PARLEY_REST_MAX_BODY_BYTES: '1000',
			PARLEY_REST_POOL_SIZE: '3',
			PARLEY_REST_PIPELINE_DEPTH: '1',
			PARLEY_REALTIME_MAX_EVENTS_PER_SECOND: '5',
			PARLEY_REALTIME_PRIVATE_ONLY: 'true',
			PARLEY_STORAGE_MAX_BYTES: '1MB',
			PARLEY_SCHED_BATCH: '0'
		});
		expect(config).toMatchObject({
			apiPort: 7001,
			dbPort: 7002,
			dataDir: join(root, 'elsewhere'),
			rest: { maxBodyBytes: 1000, poolSize: 3, pipelineDepth: 1 },
			realtime: { maxEventsPerSecond: 5, privateOnly: true },
			storage: { fileSizeLimit: 1_000_000 },
			sched: { batch: false }
		});
	});

	test('a value that is not what it should be names the setting', () => {
		expect(() => loadConfig(root, { PARLEY_API_PORT: 'abc' })).toThrow(
			new ConfigError('PARLEY_API_PORT must be a number >= 0 (got "abc")')
		);
		expect(() => loadConfig(root, { PARLEY_REST_POOL_SIZE: '0' })).toThrow(/PARLEY_REST_POOL_SIZE must be/);
		toml('[api]\nport = "high"\n');
		expect(() => loadConfig(root, {})).toThrow('supabase/config.toml [api] port must be a number');
		toml('[storage]\nfile_size_limit = "lots"\n');
		expect(() => loadConfig(root, {})).toThrow('[storage] file_size_limit must be a size such as 50MiB');
		toml('[api\n');
		expect(() => loadConfig(root, {})).toThrow(/^supabase\/config.toml cannot be read: /);
	});
});
