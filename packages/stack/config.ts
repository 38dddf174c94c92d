/**
 * Configuration of the embedded Supabase-compatible stack: every setting of every service, in
 * one typed object with a section per service, read once from the project's
 * `supabase/config.toml` and the environment.
 *
 * Defaults are the Supabase CLI's well-known local values, so a `.env` written for
 * `supabase start` works unchanged against this stack. `PARLEY_*` environment variables override
 * the file (ports, folders, keys) or set what the file has no key for (pool sizes, limits).
 * A value that is not what it should be is a ConfigError naming the setting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';

import {
	DEFAULT_ANON_KEY,
	DEFAULT_JWT_SECRET,
	DEFAULT_PUBLISHABLE_KEY,
	DEFAULT_SECRET_KEY,
	DEFAULT_SERVICE_ROLE_KEY
} from './keys.ts';
import type { RealtimeOptions } from './realtime/options.ts';
import { parseSize } from './storage/limits.ts';

export {
	DEFAULT_ANON_KEY,
	DEFAULT_JWT_SECRET,
	DEFAULT_PUBLISHABLE_KEY,
	DEFAULT_SECRET_KEY,
	DEFAULT_SERVICE_ROLE_KEY
};

/** A setting the user wrote that the stack cannot use; its message names the setting. */
export class ConfigError extends Error {
	override name = 'ConfigError';
}

export interface StackConfig {
	/** Project root (holds `supabase/`). */
	root: string;
	/** The project's `supabase/` folder. */
	supabaseDir: string;
	/** `project_id` of config.toml, else the root folder's name (as `supabase init` picks it). */
	projectId: string;
	/** Folder of the PostgreSQL cluster (git-ignored). */
	dataDir: string;
	host: string;
	apiPort: number;
	dbPort: number;
	dbName: string;
	dbUser: string;
	dbPassword: string;
	jwtSecret: string;
	jwtExpiry: number;
	anonKey: string;
	serviceRoleKey: string;
	publishableKey: string;
	secretKey: string;
	/** Schemas the REST API exposes (`[api] schemas`). */
	schemas: string[];
	extraSearchPath: string[];
	maxRows: number;
	/** Auth settings from `[auth]`. */
	auth: {
		siteUrl: string;
		enableSignup: boolean;
		minimumPasswordLength: number;
		refreshTokenReuseInterval: number;
		enableAnonymousSignIns: boolean;
		/** `[auth.rate_limit]`: requests per 5 minutes per client address. */
		rateLimit: { signInSignUps: number; tokenRefresh: number };
	};
	/** REST tunables (`PARLEY_REST_*`). */
	rest: {
		/** Largest request body (`PARLEY_REST_MAX_BODY_BYTES`, 4 MiB). */
		maxBodyBytes: number;
		/**
		 * Connections of the request pool (`PARLEY_REST_POOL_SIZE`, twice the CPUs, at least 4).
		 * Past what the cores can run, more backends only compete: each maps shared memory and
		 * warms caches of its own, so on 2 vCPUs a pool of 24 sent 20-30% fewer messages per
		 * second than 4. Requests beyond the pool wait in Node, where waiting costs nothing.
		 */
		poolSize: number;
		/**
		 * Batches a busy connection may carry at once (`PARLEY_REST_PIPELINE_DEPTH`, 2; 1 turns
		 * pipelining off). With 16 senders on 2 vCPUs, 2 (and 4) sent 14-18% more messages per
		 * second than 1; 2 keeps a request queued behind at most one other on a slow connection.
		 */
		pipelineDepth: number;
	};
	/**
	 * Realtime settings: the tunables `PARLEY_REALTIME_*` set (the others keep Supabase Realtime's
	 * tenant defaults, DEFAULT_REALTIME_OPTIONS of realtime/options.ts, where they are explained).
	 */
	realtime: Partial<RealtimeOptions> & {
		/** Refuse public channels (`PARLEY_REALTIME_PRIVATE_ONLY=true`). */
		privateOnly: boolean;
	};
	/** Storage settings. */
	storage: {
		/** Global upload cap in bytes: `PARLEY_STORAGE_MAX_BYTES`, `[storage] file_size_limit`, 50 MiB. */
		fileSizeLimit: number;
	};
	/** Scheduling policy of the stack's processes (sched.ts). */
	sched: {
		/** Run under SCHED_BATCH on Linux (`PARLEY_SCHED_BATCH=0` turns it off). */
		batch: boolean;
	};
	/** `supabase/migrations`, applied unless `[db.migrations] enabled = false`. */
	migrationsDir: string;
	migrationsEnabled: boolean;
	/** `[db.seed] enabled`. */
	seedEnabled: boolean;
	/** `[db.seed] sql_paths` as absolute paths or globs (default `supabase/seed.sql`). */
	seedPaths: string[];
	/** `supabase/functions` (not served: `/functions/v1` answers 501). */
	functionsDir: string;
}

type Toml = Record<string, unknown>;

function section(toml: Toml, ...path: string[]): Toml {
	let node: unknown = toml;
	for (const key of path) node = (node as Toml | undefined)?.[key];
	return (node && typeof node === 'object' ? node : {}) as Toml;
}

/** Reads settings from one source, naming the setting when its value is unusable. */
function reader(env: NodeJS.ProcessEnv) {
	const number = (value: unknown, where: string, min: number): number => {
		const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
		if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < min)
			throw new ConfigError(`${where} must be a number >= ${min} (got ${JSON.stringify(value)})`);
		return parsed;
	};
	return {
		/** The environment variable `name` if set, else the config.toml value, else `fallback`. */
		num(name: string | null, toml: unknown, tomlKey: string, fallback: number, min = 0): number {
			if (name && env[name] !== undefined && env[name] !== '') return number(env[name], name, min);
			if (toml !== undefined) return number(toml, `supabase/config.toml ${tomlKey}`, min);
			return fallback;
		},
		strings(toml: unknown, tomlKey: string, fallback: string[]): string[] {
			if (toml === undefined) return fallback;
			if (!Array.isArray(toml) || toml.some((s) => typeof s !== 'string'))
				throw new ConfigError(`supabase/config.toml ${tomlKey} must be a list of strings`);
			return toml;
		},
		size(name: string, toml: unknown, tomlKey: string, fallback: number): number {
			const [value, where] = env[name] ? [env[name], name] : [toml, `supabase/config.toml ${tomlKey}`];
			try {
				return parseSize(value) ?? fallback;
			} catch {
				throw new ConfigError(`${where} must be a size such as 50MiB (got ${JSON.stringify(value)})`);
			}
		}
	};
}

/**
 * Realtime tunables from `PARLEY_REALTIME_*` variables (milliseconds and counts); a value that is
 * not a positive number is ignored, leaving the default.
 */
function realtimeFromEnv(env: NodeJS.ProcessEnv): Partial<RealtimeOptions> {
	const out: Partial<RealtimeOptions> = {};
	const map: [keyof RealtimeOptions, string][] = [
		['heartbeatTimeoutMs', 'PARLEY_REALTIME_HEARTBEAT_TIMEOUT_MS'],
		['maxChannelsPerClient', 'PARLEY_REALTIME_MAX_CHANNELS_PER_CLIENT'],
		['maxEventsPerSecond', 'PARLEY_REALTIME_MAX_EVENTS_PER_SECOND'],
		['maxPayloadBytes', 'PARLEY_REALTIME_MAX_PAYLOAD_BYTES'],
		['retentionMs', 'PARLEY_REALTIME_RETENTION_MS']
	];
	for (const [key, name] of map) {
		const value = Number(env[name]);
		if (env[name] && Number.isFinite(value) && value > 0) out[key] = value;
	}
	return out;
}

/** Loads the stack configuration from `<root>/supabase/config.toml` and the environment. */
export function loadConfig(root = process.cwd(), env: NodeJS.ProcessEnv = process.env): StackConfig {
	const supabaseDir = resolve(root, 'supabase');
	const tomlPath = resolve(supabaseDir, 'config.toml');
	let toml: Toml = {};
	if (existsSync(tomlPath)) {
		try {
			toml = parseToml(readFileSync(tomlPath, 'utf8'));
		} catch (error) {
			const first = String((error as Error).message).split('\n')[0];
			throw new ConfigError(`supabase/config.toml cannot be read: ${first}`);
		}
	}
	const api = section(toml, 'api');
	const db = section(toml, 'db');
	const auth = section(toml, 'auth');
	const seed = section(toml, 'db', 'seed');
	const migrations = section(toml, 'db', 'migrations');
	const rateLimit = section(toml, 'auth', 'rate_limit');
	const storage = section(toml, 'storage');
	const read = reader(env);
	return {
		root,
		supabaseDir,
		projectId: String(toml.project_id ?? basename(resolve(root))),
		dataDir: resolve(root, env.PARLEY_DATA_DIR || '.stack/data'),
		host: env.PARLEY_HOST || '127.0.0.1',
		apiPort: read.num('PARLEY_API_PORT', api.port, '[api] port', 54321),
		dbPort: read.num('PARLEY_DB_PORT', db.port, '[db] port', 54322),
		dbName: 'postgres',
		dbUser: 'postgres',
		dbPassword: env.PARLEY_DB_PASSWORD ?? 'postgres',
		jwtSecret: env.PARLEY_JWT_SECRET ?? DEFAULT_JWT_SECRET,
		jwtExpiry: read.num('PARLEY_JWT_EXPIRY', auth.jwt_expiry, '[auth] jwt_expiry', 3600, 1),
		anonKey: env.PARLEY_ANON_KEY ?? DEFAULT_ANON_KEY,
		serviceRoleKey: env.PARLEY_SERVICE_ROLE_KEY ?? DEFAULT_SERVICE_ROLE_KEY,
		publishableKey: env.PARLEY_PUBLISHABLE_KEY ?? DEFAULT_PUBLISHABLE_KEY,
		secretKey: env.PARLEY_SECRET_KEY ?? DEFAULT_SECRET_KEY,
		schemas: read.strings(api.schemas, '[api] schemas', ['public']),
		extraSearchPath: read.strings(api.extra_search_path, '[api] extra_search_path', ['public', 'extensions']),
		maxRows: read.num(null, api.max_rows, '[api] max_rows', 1000, 1),
		auth: {
			siteUrl: String(auth.site_url ?? 'http://127.0.0.1:3000'),
			enableSignup: auth.enable_signup !== false,
			minimumPasswordLength: read.num(
				null,
				auth.minimum_password_length,
				'[auth] minimum_password_length',
				6
			),
			refreshTokenReuseInterval: read.num(
				null,
				auth.refresh_token_reuse_interval,
				'[auth] refresh_token_reuse_interval',
				10
			),
			enableAnonymousSignIns: auth.enable_anonymous_sign_ins === true,
			rateLimit: {
				signInSignUps: read.num(
					'PARLEY_AUTH_RATE_LIMIT_SIGN_IN',
					rateLimit.sign_in_sign_ups,
					'[auth.rate_limit] sign_in_sign_ups',
					30
				),
				tokenRefresh: read.num(
					'PARLEY_AUTH_RATE_LIMIT_TOKEN_REFRESH',
					rateLimit.token_refresh,
					'[auth.rate_limit] token_refresh',
					150
				)
			}
		},
		rest: {
			maxBodyBytes: read.num('PARLEY_REST_MAX_BODY_BYTES', undefined, '', 4 * 1024 ** 2, 1),
			poolSize: read.num('PARLEY_REST_POOL_SIZE', undefined, '', Math.max(4, 2 * availableParallelism()), 1),
			pipelineDepth: read.num('PARLEY_REST_PIPELINE_DEPTH', undefined, '', 2, 1)
		},
		realtime: {
			...realtimeFromEnv(env),
			privateOnly: env.PARLEY_REALTIME_PRIVATE_ONLY === 'true'
		},
		storage: {
			fileSizeLimit: read.size(
				'PARLEY_STORAGE_MAX_BYTES',
				storage.file_size_limit,
				'[storage] file_size_limit',
				50 * 1024 ** 2
			)
		},
		sched: { batch: env.PARLEY_SCHED_BATCH !== '0' },
		migrationsDir: resolve(supabaseDir, 'migrations'),
		migrationsEnabled: migrations.enabled !== false,
		seedEnabled: seed.enabled !== false,
		seedPaths: read
			.strings(seed.sql_paths, '[db.seed] sql_paths', ['./seed.sql'])
			.map((p) => resolve(supabaseDir, p)),
		functionsDir: resolve(supabaseDir, 'functions')
	};
}

/** Connection string of a database in the stack's cluster. */
export function databaseUrl(config: StackConfig, database = config.dbName): string {
	return `postgresql://${config.dbUser}:${encodeURIComponent(config.dbPassword)}@${config.host}:${config.dbPort}/${database}`;
}
