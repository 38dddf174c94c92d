/**
 * Configuration of the embedded Supabase-compatible stack.
 *
 * Defaults are the Supabase CLI's well-known local values, so a `.env` written for
 * `supabase start` works unchanged against this stack. Every value can be overridden
 * by an environment variable; `supabase/config.toml` supplies ports and API settings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';

import {
	DEFAULT_ANON_KEY,
	DEFAULT_JWT_SECRET,
	DEFAULT_PUBLISHABLE_KEY,
	DEFAULT_SECRET_KEY,
	DEFAULT_SERVICE_ROLE_KEY
} from './keys.ts';

export {
	DEFAULT_ANON_KEY,
	DEFAULT_JWT_SECRET,
	DEFAULT_PUBLISHABLE_KEY,
	DEFAULT_SECRET_KEY,
	DEFAULT_SERVICE_ROLE_KEY
};

export interface StackConfig {
	/** Project root (holds `supabase/`). */
	root: string;
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
	/** Realtime settings. */
	realtime: {
		privateOnly: boolean;
	};
	migrationsDir: string;
	seedPath: string;
	seedEnabled: boolean;
}

type Toml = Record<string, unknown>;

function section(toml: Toml, ...path: string[]): Toml {
	let node: unknown = toml;
	for (const key of path) node = (node as Toml | undefined)?.[key];
	return (node && typeof node === 'object' ? node : {}) as Toml;
}

function num(value: string | undefined, fallback: number): number {
	const parsed = value === undefined || value === '' ? NaN : Number(value);
	return Number.isFinite(parsed) ? parsed : fallback;
}

/** Loads the stack configuration from `supabase/config.toml` and the environment. */
export function loadConfig(root = process.cwd(), env: NodeJS.ProcessEnv = process.env): StackConfig {
	const tomlPath = resolve(root, 'supabase/config.toml');
	const toml: Toml = existsSync(tomlPath) ? parseToml(readFileSync(tomlPath, 'utf8')) : {};
	const api = section(toml, 'api');
	const db = section(toml, 'db');
	const auth = section(toml, 'auth');
	const seed = section(toml, 'db', 'seed');
	const rateLimit = section(toml, 'auth', 'rate_limit');
	return {
		root,
		dataDir: resolve(root, env.PARLEY_DATA_DIR ?? '.stack/data'),
		host: env.PARLEY_HOST ?? '127.0.0.1',
		apiPort: num(env.PARLEY_API_PORT, Number(api.port ?? 54321)),
		dbPort: num(env.PARLEY_DB_PORT, Number(db.port ?? 54322)),
		dbName: 'postgres',
		dbUser: 'postgres',
		dbPassword: env.PARLEY_DB_PASSWORD ?? 'postgres',
		jwtSecret: env.PARLEY_JWT_SECRET ?? DEFAULT_JWT_SECRET,
		jwtExpiry: num(env.PARLEY_JWT_EXPIRY, Number(auth.jwt_expiry ?? 3600)),
		anonKey: env.PARLEY_ANON_KEY ?? DEFAULT_ANON_KEY,
		serviceRoleKey: env.PARLEY_SERVICE_ROLE_KEY ?? DEFAULT_SERVICE_ROLE_KEY,
		publishableKey: env.PARLEY_PUBLISHABLE_KEY ?? DEFAULT_PUBLISHABLE_KEY,
		secretKey: env.PARLEY_SECRET_KEY ?? DEFAULT_SECRET_KEY,
		schemas: (api.schemas as string[] | undefined) ?? ['public'],
		extraSearchPath: (api.extra_search_path as string[] | undefined) ?? ['public', 'extensions'],
		maxRows: Number(api.max_rows ?? 1000),
		auth: {
			siteUrl: String(auth.site_url ?? 'http://127.0.0.1:3000'),
			enableSignup: auth.enable_signup !== false,
			minimumPasswordLength: Number(auth.minimum_password_length ?? 6),
			refreshTokenReuseInterval: Number(auth.refresh_token_reuse_interval ?? 10),
			enableAnonymousSignIns: auth.enable_anonymous_sign_ins === true,
			rateLimit: {
				signInSignUps: num(env.PARLEY_AUTH_RATE_LIMIT_SIGN_IN, Number(rateLimit.sign_in_sign_ups ?? 30)),
				tokenRefresh: num(env.PARLEY_AUTH_RATE_LIMIT_TOKEN_REFRESH, Number(rateLimit.token_refresh ?? 150))
			}
		},
		realtime: {
			privateOnly: env.PARLEY_REALTIME_PRIVATE_ONLY === 'true'
		},
		migrationsDir: resolve(root, 'supabase/migrations'),
		seedPath: resolve(root, 'supabase/seed.sql'),
		seedEnabled: seed.enabled !== false
	};
}

/** Connection string of a database in the stack's cluster. */
export function databaseUrl(config: StackConfig, database = config.dbName): string {
	return `postgresql://${config.dbUser}:${encodeURIComponent(config.dbPassword)}@${config.host}:${config.dbPort}/${database}`;
}
