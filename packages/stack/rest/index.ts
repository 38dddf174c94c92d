/**
 * The embedded stack's REST service (`/rest/v1`): a PostgREST-compatible API over the exposed
 * schemas, good enough for the unmodified supabase-js client. A request goes along PostgREST's
 * pipeline: its token is checked (token.ts), it is parsed (request.ts), planned against the
 * schema cache (planner.ts and plan-*.ts), rendered as one SQL statement (render*.ts), run in one
 * pipelined transaction as the JWT's role (executor.ts), and answered (respond.ts); errors follow
 * PostgREST's codes and statuses (errors.ts, pg-errors.ts). Its tunables (body limit, pool size,
 * pipeline depth) come from the stack config's `rest` section.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import pgModule from 'pg';
import type { GatewayContext, Service } from '../gateway.ts';
import type { ServiceDeps } from '../services.ts';
import { PayloadTooLargeError, requestHeadersJson } from '../http.ts';
import { ApiError, errors, type ErrorBody } from './errors.ts';
import { Executor, type RequestSettings } from './executor.ts';
import { SchemaMiss } from './lookup.ts';
import { fromPgError, isPgError } from './pg-errors.ts';
import { planRequest, type ActionPlan } from './planner.ts';
import { qi, renderRead, SqlBuilder, type BuiltQuery } from './render.ts';
import { renderCall, renderMutate } from './render-write.ts';
import { parseRequest, type ApiRequest } from './request.ts';
import { outcomeCheck, respond, type Reply } from './respond.ts';
import { SchemaCache, type SchemaSnapshot } from './schema-cache.ts';
import { TokenCheck } from './token.ts';

const OPENAPI: Reply = {
	status: 200,
	headers: {},
	contentType: 'application/openapi+json; charset=utf-8',
	body: JSON.stringify({
		swagger: '2.0',
		info: { title: 'Parley REST (PostgREST-compatible)', version: '12' },
		paths: {}
	})
};

function errorReply(status: number, body: ErrorBody, headers: Record<string, string> = {}): Reply {
	return { status, headers, body: JSON.stringify(body) };
}

/** The SQL statement of a plan. */
function render(plan: ActionPlan): BuiltQuery {
	if (plan.kind === 'mutate') return renderMutate(plan.mutate);
	if (plan.kind === 'call') return renderCall(plan.call);
	return renderRead(new SqlBuilder(), plan.read);
}

/** Creates the REST service. */
export function createRestService(deps: ServiceDeps): Service {
	const { config } = deps;
	const log = (m: string) => deps.log?.('rest', m);
	const admin = new pgModule.Pool({ connectionString: deps.dbUrl, max: 3 });
	admin.on('error', () => {});
	const cache = new SchemaCache(admin, config.schemas, log);
	const executor = new Executor(deps.dbUrl, config.rest.poolSize, config.rest.pipelineDepth);
	const tokens = new TokenCheck(config.jwtSecret);
	const limits = { schemas: config.schemas, maxBodyBytes: config.rest.maxBodyBytes };
	let listening: Promise<void> | null = null;
	const searchPathTail = config.extraSearchPath.map(qi);
	const searchPaths = new Map<string, string>();
	/** The request's search_path: the schema, then the extra ones (computed once per schema). */
	function searchPathOf(schema: string): string {
		let path = searchPaths.get(schema);
		if (path === undefined) {
			path = [qi(schema), ...searchPathTail.filter((s) => s !== qi(schema))].join(', ');
			searchPaths.set(schema, path);
		}
		return path;
	}

	/** Plans with the current schema snapshot; on a miss, reloads once and plans again. */
	async function plan(api: ApiRequest): Promise<{ snap: SchemaSnapshot; plan: ActionPlan }> {
		let snap = await cache.get();
		try {
			return { snap, plan: planRequest(snap, api, config.maxRows) };
		} catch (e) {
			if (!(e instanceof SchemaMiss)) throw e;
			snap = await cache.reloadAfterMiss();
			try {
				return { snap, plan: planRequest(snap, api, config.maxRows) };
			} catch (e2) {
				throw e2 instanceof SchemaMiss ? e2.error : e2;
			}
		}
	}

	async function handleRequest(
		req: IncomingMessage,
		ctx: GatewayContext,
		who: { role?: string }
	): Promise<Reply> {
		listening ??= cache.listen(deps.dbUrl).catch((e) => log(`listen failed: ${e.message}`));
		const { json: claims, role } = await tokens.verify(ctx.token);
		who.role = role;
		const api = await parseRequest(req, ctx.url, limits);
		if (api === 'openapi') return OPENAPI;
		const settings: RequestSettings = {
			role,
			searchPath: searchPathOf(api.schema),
			claims,
			method: api.method,
			path: api.path,
			headers: requestHeadersJson(req),
			cookies: '{}'
		};
		const planned = await plan(api);
		const query = render(planned.plan);
		const { snap } = planned;
		executor.resetStatements(snap.generation);
		const extra = [...(snap.roleSettings.get(role) ?? [])];
		if (api.prefs.timezone) extra.push(['timezone', api.prefs.timezone]);
		settings.extra = extra;

		const check = outcomeCheck(api, planned.plan);
		let rejected: ApiError | undefined;
		const result = await executor.run({
			readOnly: api.isRead,
			settings,
			main: query,
			explain: query.explain,
			rollback: api.prefs.tx === 'rollback',
			decide: check
				? (r) => {
						rejected = check(r.rows[0]);
						return !rejected;
					}
				: undefined
		});
		if (rejected) throw rejected;
		const row = result.main.rows[0] as { total: string | null; page: string; body: string | null };
		let total = row.total === null ? null : Number(row.total);
		const count = api.prefs.count;
		if (result.explain && (count === 'planned' || (total !== null && total > config.maxRows))) {
			const planRows = (result.explain.rows[0]['QUERY PLAN'] as { Plan: { 'Plan Rows': number } }[])[0].Plan;
			total = planRows['Plan Rows'];
		}
		return respond(api, planned.plan, { total, page: Number(row.page), body: row.body });
	}

	/** The answer to an error, from the REST layer, the body reader or PostgreSQL. */
	function failure(e: unknown, role: string | undefined): Reply {
		if (e instanceof ApiError) return errorReply(e.status, e.body, e.headers);
		if (e instanceof PayloadTooLargeError)
			return errorReply(413, errors.payloadTooLarge(config.rest.maxBodyBytes).body);
		if (isPgError(e)) {
			const m = fromPgError(e, role !== undefined && role !== 'anon');
			return errorReply(m.status, m.body, m.headers);
		}
		console.error('[rest] unexpected error', e);
		return errorReply(500, errors.unexpected().body);
	}

	async function handle(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext): Promise<void> {
		let reply: Reply;
		const who: { role?: string } = {};
		try {
			reply = await handleRequest(req, ctx, who);
		} catch (e) {
			reply = failure(e, who.role);
			if (!req.complete) req.resume();
		}
		const headers: Record<string, string | number> = { ...reply.headers };
		if (reply.body !== undefined && reply.body !== '') {
			headers['content-type'] = reply.contentType ?? 'application/json; charset=utf-8';
			headers['content-length'] = Buffer.byteLength(reply.body);
		} else if (reply.status !== 204) headers['content-length'] = 0;
		res.writeHead(reply.status, headers);
		res.end(req.method === 'HEAD' ? undefined : reply.body || undefined);
	}

	return {
		handle,
		async close() {
			await cache.close();
			await executor.close();
			await admin.end();
		}
	};
}
