/**
 * `POST /logout?scope=`: signs the caller out. `global` (the default) ends every session of the
 * user, `local` only the token's own, `others` all but the token's own; ending a session takes
 * its refresh tokens with it (they cascade). Answers 204.
 */
import type { AuthRequest } from '../context.ts';
import { badRequest } from '../errors.ts';
import { requireUser, type WithCaller } from '../guards.ts';
import { attach, byMethod, type RouteTable } from '../router.ts';
import { transaction } from '../sessions.ts';

type Scope = 'global' | 'local' | 'others';
const SCOPES: readonly string[] = ['global', 'local', 'others'] satisfies Scope[];

/** The scope asked for, checked before the token is. */
function logoutScope(r: AuthRequest): Scope {
	const scope = r.ctx.url.searchParams.get('scope') ?? 'global';
	if (!SCOPES.includes(scope)) throw badRequest('validation_failed', 'Unsupported logout scope');
	return scope as Scope;
}

async function logout(r: AuthRequest & { scope: Scope } & WithCaller): Promise<void> {
	const { user, sessionId } = r.caller;
	await transaction(r.auth.pool, async (db) => {
		if (r.scope === 'local' && sessionId) {
			await db.query('delete from auth.sessions where id = $1', [sessionId]);
		} else if (r.scope === 'others') {
			await db.query('delete from auth.sessions where user_id = $1 and id is distinct from $2', [
				user.id,
				sessionId ?? null
			]);
		} else {
			await db.query('delete from auth.sessions where user_id = $1', [user.id]);
		}
	});
	r.res.writeHead(204);
	r.res.end();
}

export const logoutRoutes: RouteTable = [
	{ path: '/logout', handle: byMethod({ POST: attach('scope', logoutScope, requireUser(logout)) }) }
];
