/**
 * The embedded stack's Auth service (`/auth/v1`): a GoTrue-compatible API for email + password
 * accounts, enough for the unmodified `@supabase/supabase-js` and `@supabase/ssr` clients:
 * sign-up, password and refresh-token grants (rotation with reuse detection), the current user
 * (get, update), sign-out scopes, the admin user API (service key only), settings, health and an
 * empty JWKS. Everything else GoTrue offers (OAuth, OTP, magic links, MFA, SSO...) answers a
 * GoTrue-shaped 400 `feature_not_supported`.
 *
 * This file is the wiring: the service's shared state and the route table, whose entries live in
 * endpoints/ (one module per endpoint group) with the wrappers each needs (guards.ts, body.ts,
 * rate-limit.ts); router.ts dispatches. State lives in the `auth` schema exactly as GoTrue keeps
 * it (see stack/platform/0003_auth.sql); every write runs in a transaction. Errors follow
 * GoTrue's wire format (see errors.ts).
 */
import pg from 'pg';
import type { Service } from '../gateway.ts';
import type { ServiceDeps } from '../services.ts';
import { authRequest, type AuthContext } from './context.ts';
import { sendFailure } from './errors.ts';
import { requireAdmin } from './guards.ts';
import { createLimiters } from './rate-limit.ts';
import { dispatch, routes, type RouteTable } from './router.ts';
import { adminUserRoutes } from './endpoints/admin-users.ts';
import { logoutRoutes } from './endpoints/logout.ts';
import { metaRoutes } from './endpoints/meta.ts';
import { signupRoutes } from './endpoints/signup.ts';
import { tokenRoutes } from './endpoints/token.ts';
import { unsupportedRoutes } from './endpoints/unsupported.ts';
import { userRoutes } from './endpoints/user.ts';

export { AUTH_BODY_LIMIT } from './body.ts';

/**
 * Every path of the API, first match wins. The unsupported features come before the admin
 * group, so that their answer needs no admin token; everything else under `/admin/` wants one
 * before it is even matched, so a non-admin learns nothing of what exists there.
 */
const ROUTES: RouteTable = [
	...metaRoutes,
	...signupRoutes,
	...tokenRoutes,
	...userRoutes,
	...logoutRoutes,
	...unsupportedRoutes,
	{ path: /^\/admin\//, handle: requireAdmin(routes(adminUserRoutes)) }
];

/** Creates the Auth service on the project database. */
export function createAuthService(deps: ServiceDeps): Service {
	const { config } = deps;
	const log = deps.log ?? ((service: string, message: string) => console.error(`[${service}] ${message}`));
	const pool = new pg.Pool({ connectionString: deps.dbUrl, max: 10 });
	pool.on('error', (error) => log('auth', `database pool error: ${error.message}`));
	const auth: AuthContext = { config, pool, limiters: createLimiters(config) };
	return {
		async handle(req, res, ctx) {
			try {
				await dispatch(ROUTES, authRequest(auth, req, res, ctx));
			} catch (error) {
				sendFailure(req, res, error, (message) => log('auth', message));
			}
		},
		async close() {
			await pool.end();
		}
	};
}
