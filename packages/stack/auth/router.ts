/**
 * The Auth API's routing. A route table lists paths in order, each an exact path or a pattern
 * whose groups become `params`, with the handler that serves it; `dispatch` takes the first
 * path that matches (404 when none does). Per-method handlers come from `byMethod` (405 for the
 * rest), and handlers compose with wrappers: `attach` runs a step before the handler and hands
 * its result on as a named field of the request, which is how requireUser (guards.ts), the body
 * (body.ts) and rate limits (rate-limit.ts) are built. A wrapper's place in the chain is when its
 * check runs, and so which refusal wins: each route's chain spells out its order of checks.
 */
import type { AuthRequest } from './context.ts';
import { methodNotAllowed, notFound } from './errors.ts';

/** Answers a request that has what earlier wrappers established. */
export type Handler<R extends AuthRequest = AuthRequest> = (r: R) => Promise<void>;

/** One path of a route table. */
export interface Route {
	path: string | RegExp;
	handle: Handler;
}

export type RouteTable = readonly Route[];

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The path a table matches against: without its trailing slashes, as GoTrue's router takes it. */
function routePath(r: AuthRequest): string {
	return r.ctx.url.pathname.replace(/\/+$/, '') || '/';
}

/** Serves `r` with the first route of `table` whose path matches. */
export async function dispatch(table: RouteTable, r: AuthRequest): Promise<void> {
	const path = routePath(r);
	for (const route of table) {
		if (typeof route.path === 'string') {
			if (route.path === path) return route.handle(r);
			continue;
		}
		const match = route.path.exec(path);
		if (match) return route.handle({ ...r, params: match.slice(1) });
	}
	throw notFound();
}

/** A handler serving a nested table: with a wrapper, a group of routes behind one guard. */
export function routes(table: RouteTable): Handler {
	return (r) => dispatch(table, r);
}

/** Picks the handler for the request's method; any other method answers 405. */
export function byMethod<R extends AuthRequest>(handlers: Partial<Record<Method, Handler<R>>>): Handler<R> {
	return async (r) => {
		const method = r.req.method ?? 'GET';
		const handler = Object.hasOwn(handlers, method) ? handlers[method as Method] : undefined;
		if (!handler) throw methodNotAllowed();
		return handler(r);
	};
}

/** Runs `load` first and hands its result to `next` as the request's field `key`. */
export function attach<K extends string, V, R extends AuthRequest>(
	key: K,
	load: (r: R) => V | Promise<V>,
	next: Handler<R & Record<K, V>>
): Handler<R> {
	return async (r) => next({ ...r, [key]: await load(r) } as R & Record<K, V>);
}
