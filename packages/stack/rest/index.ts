/**
 * The embedded stack's REST service (`/rest/v1`): a PostgREST-compatible API over the exposed
 * schemas, good enough for the unmodified supabase-js client. A request is authenticated with
 * its JWT, parsed (parser.ts), validated against the schema cache (schema-cache.ts), turned into
 * one SQL statement (sql.ts) and run in one pipelined transaction as the JWT's role
 * (executor.ts); errors follow PostgREST's codes and statuses (errors.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import pgModule from 'pg';
import type { GatewayContext, Service } from '../gateway.ts';
import type { ServiceDeps } from '../services.ts';
import { JsonDepthError, parseJson, PayloadTooLargeError, readBody, requestHeadersJson } from '../http.ts';
import { JwtError, verifyJwt, type Claims } from '../jwt.ts';
import { ApiError, fromPgError, isPgError, unsupported, type ErrorBody } from './errors.ts';
import { parsePrefer, parseQuery, type ParsedQuery, type Preferences } from './parser.ts';
import { findFunctions, SchemaCache, type PgFunction, type SchemaSnapshot } from './schema-cache.ts';
import {
	Builder,
	buildDelete,
	buildInsert,
	buildRead,
	buildRpc,
	buildUpdate,
	closest,
	pickFunction,
	qi,
	SchemaMiss,
	tableOf,
	type BuiltQuery,
	type WritePayload
} from './sql.ts';
import { Executor, restPoolSize } from './executor.ts';

/** Tunables, from the environment so the stack's config file need not change. */
const MAX_BODY_BYTES = Number(process.env.PARLEY_REST_MAX_BODY_BYTES ?? 4 * 1024 * 1024);

type MediaType = { kind: 'json' | 'object' | 'csv'; stripNulls: boolean };

/** Chooses the response media type from `Accept`, or fails with 406 PGRST107. */
function negotiate(accept: string | undefined): MediaType {
	if (!accept) return { kind: 'json', stripNulls: false };
	const offers = accept
		.split(',')
		.map((part, i) => {
			const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
			const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? 1);
			return { type, params, q: Number.isFinite(q) ? q : 0, i };
		})
		.filter((o) => o.q > 0)
		.sort((a, b) => b.q - a.q || a.i - b.i);
	for (const o of offers) {
		const stripNulls = o.params.includes('nulls=stripped');
		switch (o.type) {
			case '*/*':
			case 'application/*':
			case 'application/json':
			case 'application/vnd.pgrst.array+json':
			case 'application/vnd.pgrst.array':
				return { kind: 'json', stripNulls };
			case 'application/vnd.pgrst.object+json':
			case 'application/vnd.pgrst.object':
				return { kind: 'object', stripNulls };
			case 'text/csv':
			case 'text/*':
				return { kind: 'csv', stripNulls: false };
		}
	}
	throw new ApiError(406, 'PGRST107', `None of these media types are available: ${accept}`);
}

/** Rows (a JSON array) as CSV with a header line. */
function toCsv(json: string): string {
	const rows = JSON.parse(json) as Record<string, unknown>[];
	if (!rows.length) return '';
	const cols = Object.keys(rows[0]);
	const cell = (v: unknown) => {
		if (v === null || v === undefined) return '';
		const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
		return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
	};
	return [cols.map(cell).join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n');
}

/** A verified token: its claims, its role and the claims as the JSON `request.jwt.claims` holds. */
interface Identity {
	claims: Claims;
	role: string;
	json: string;
}

/** A small cache of verified tokens: HS256 verification is the costliest step of a fast read. */
class TokenCache {
	#map = new Map<string, Identity>();
	get(token: string): Identity | undefined {
		const id = this.#map.get(token);
		if (id && typeof id.claims.exp === 'number' && id.claims.exp * 1000 <= Date.now()) {
			this.#map.delete(token);
			return undefined;
		}
		return id;
	}
	set(token: string, id: Identity): void {
		if (this.#map.size >= 1000) this.#map.delete(this.#map.keys().next().value!);
		this.#map.set(token, id);
	}
}

interface Reply {
	status: number;
	headers: Record<string, string>;
	body?: string;
	contentType?: string;
}

function errorReply(status: number, body: ErrorBody, headers: Record<string, string> = {}): Reply {
	return { status, headers, body: JSON.stringify(body) };
}

/** The request's `Range` header as offset/limit, when it is an items range. */
function parseRange(req: IncomingMessage): { offset: number; limit?: number } | undefined {
	const header = req.headers.range;
	if (!header) return undefined;
	const unit = String(req.headers['range-unit'] ?? 'items');
	if (unit !== 'items') return undefined;
	const m = /^(?:items=)?(\d+)-(\d*)$/.exec(header.trim());
	if (!m) return undefined;
	const start = Number(m[1]);
	if (m[2] === '') return { offset: start };
	const end = Number(m[2]);
	if (end < start)
		throw new ApiError(416, 'PGRST103', 'Requested range not satisfiable', null, null, {
			'content-range': '*/*'
		});
	return { offset: start, limit: end - start + 1 };
}

/** Creates the REST service. */
export function createRestService(deps: ServiceDeps): Service {
	const { config } = deps;
	const log = (m: string) => deps.log?.('rest', m);
	const admin = new pgModule.Pool({ connectionString: deps.dbUrl, max: 3 });
	admin.on('error', () => {});
	const cache = new SchemaCache(admin, config.schemas, log);
	const executor = new Executor(deps.dbUrl, restPoolSize());
	const tokens = new TokenCache();
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

	async function authenticate(token: string): Promise<Identity> {
		const known = tokens.get(token);
		if (known) return known;
		let claims: Claims;
		try {
			claims = await verifyJwt(token, config.jwtSecret);
		} catch (e) {
			if (e instanceof JwtError && e.reason === 'expired')
				throw new ApiError(401, 'PGRST303', 'JWT expired', null, null, { 'www-authenticate': 'Bearer' });
			throw new ApiError(401, 'PGRST301', 'No suitable key or wrong key type', null, null, {
				'www-authenticate': 'Bearer error="invalid_token"'
			});
		}
		const role = typeof claims.role === 'string' && claims.role !== '' ? claims.role : 'anon';
		const id = { claims, role, json: JSON.stringify(claims) };
		tokens.set(token, id);
		return id;
	}

	/** Builds with the current schema snapshot; on a miss, reloads once and builds again. */
	async function withSnapshot<T>(
		build: (snap: SchemaSnapshot) => T
	): Promise<{ snap: SchemaSnapshot; value: T }> {
		let snap = await cache.get();
		try {
			return { snap, value: build(snap) };
		} catch (e) {
			if (!(e instanceof SchemaMiss)) throw e;
			snap = await cache.reloadAfterMiss();
			try {
				return { snap, value: build(snap) };
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
		const method = req.method ?? 'GET';
		const path = ctx.url.pathname;
		const { json: claimsJson, role } = await authenticate(ctx.token);
		who.role = role;

		const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
		const isRpc = segments.length === 2 && segments[0] === 'rpc';
		if (segments.length === 0) return openApi(method);
		if (!(segments.length === 1 || isRpc))
			throw new ApiError(404, 'PGRST125', `Invalid path specified in request URL`);
		const isRead = method === 'GET' || method === 'HEAD';
		if (isRpc && !['GET', 'HEAD', 'POST'].includes(method))
			throw new ApiError(405, 'PGRST101', `Cannot use the ${method} method on RPC`);
		if (!isRpc && !['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'].includes(method)) {
			if (method === 'PUT') throw unsupported('PUT (single-row upsert)');
			throw new ApiError(405, 'PGRST117', `Unsupported HTTP method: ${method}`);
		}

		const profileHeader = isRead ? req.headers['accept-profile'] : req.headers['content-profile'];
		const schema = profileHeader ? String(profileHeader) : config.schemas[0];
		if (!config.schemas.includes(schema))
			throw new ApiError(
				406,
				'PGRST106',
				`Invalid schema: ${schema}`,
				null,
				`Only the following schemas are exposed: ${config.schemas.join(', ')}`
			);
		const media = negotiate(req.headers.accept);
		const prefs = parsePrefer(req.headers.prefer);
		if (prefs.handling === 'strict' && prefs.invalid.length)
			throw new ApiError(
				400,
				'PGRST122',
				'Invalid preferences given with handling=strict',
				`Invalid preferences: ${prefs.invalid.join(', ')}`
			);

		let body: unknown = undefined;
		let rawBody = '';
		if (!isRead) {
			const type = String(req.headers['content-type'] ?? 'application/json').toLowerCase();
			const buf = await readBody(req, MAX_BODY_BYTES);
			rawBody = buf.toString('utf8');
			if (method !== 'DELETE' || rawBody.trim() !== '') {
				if (
					!/^application\/(json|vnd\.pgrst\.object\+json|vnd\.pgrst\.object)\b/.test(type) &&
					rawBody !== ''
				)
					throw new ApiError(415, 'PGRST107', `Content-Type not acceptable: ${type}`);
				if (isRpc && rawBody.trim() === '') body = {};
				else {
					try {
						body = parseJson(rawBody);
					} catch (error) {
						throw new ApiError(
							400,
							'PGRST102',
							'Empty or invalid json',
							error instanceof JsonDepthError ? error.message : null
						);
					}
				}
			}
		}

		const settings = {
			role,
			searchPath: searchPathOf(schema),
			claims: claimsJson,
			method,
			path,
			headers: requestHeadersJson(req),
			cookies: '{}',
			extra: [] as [string, string][]
		};
		const range = isRead ? parseRange(req) : undefined;

		// The gateway already parsed the URL; its query string is the request's.
		const params = ctx.url.searchParams;
		const ctxReq: RequestCtx = {
			req,
			method,
			schema,
			media,
			prefs,
			body,
			rawBody,
			range,
			isRead,
			segments,
			params
		};
		const { snap, value: plan } = await withSnapshot((s) =>
			isRpc ? planRpc(s, ctxReq, segments[1]) : planTable(s, ctxReq, segments[0])
		);
		executor.resetStatements(snap.generation);
		settings.extra = [...(snap.roleSettings.get(role) ?? [])];
		if (prefs.timezone) settings.extra.push(['timezone', prefs.timezone]);

		const decide = plan.decide;
		let rejected: ApiError | undefined;
		const result = await executor.run({
			readOnly: isRead,
			settings,
			main: plan.query,
			explain: plan.query.explain,
			rollback: prefs.tx === 'rollback',
			decide: decide
				? (r) => {
						rejected = decide(r.rows[0]);
						return !rejected;
					}
				: undefined
		});
		if (rejected) throw rejected;
		const row = result.main.rows[0] as { total: string | null; page: string; body: string | null };
		let total = row.total === null ? null : Number(row.total);
		if (result.explain && (prefs.count === 'planned' || (total !== null && total > config.maxRows))) {
			const planRows = (result.explain.rows[0]['QUERY PLAN'] as { Plan: { 'Plan Rows': number } }[])[0].Plan;
			total = planRows['Plan Rows'];
		}
		return plan.respond({ total, page: Number(row.page), body: row.body });
	}

	interface RequestCtx {
		req: IncomingMessage;
		method: string;
		schema: string;
		media: MediaType;
		prefs: Preferences;
		body: unknown;
		rawBody: string;
		range?: { offset: number; limit?: number };
		isRead: boolean;
		segments: string[];
		params: URLSearchParams;
	}

	interface Plan {
		query: BuiltQuery;
		decide?: (row: { page: string }) => ApiError | undefined;
		respond(r: { total: number | null; page: number; body: string | null }): Reply;
	}

	function applied(prefs: Preferences, keys: (keyof Preferences)[]): Record<string, string> {
		const out: string[] = [];
		for (const k of keys) {
			const v = prefs[k];
			if (v === undefined) continue;
			out.push(k === 'maxAffected' ? `max-affected=${v}` : `${k}=${v}`);
		}
		return out.length ? { 'preference-applied': out.join(', ') } : {};
	}

	function singleCheck(media: MediaType): Plan['decide'] {
		if (media.kind !== 'object') return undefined;
		return (row) => {
			const n = Number(row.page);
			return n === 1
				? undefined
				: new ApiError(
						406,
						'PGRST116',
						'Cannot coerce the result to a single JSON object',
						`The result contains ${n} rows`
					);
		};
	}

	function contentRange(offset: number, page: number, total: number | null): string {
		const t = total === null ? '*' : String(total);
		return page > 0 ? `${offset}-${offset + page - 1}/${t}` : `*/${t}`;
	}

	function readReply(
		c: RequestCtx,
		r: { total: number | null; page: number; body: string | null },
		offset: number,
		extraHeaders: Record<string, string>
	): Reply {
		const headers: Record<string, string> = {
			'content-range': contentRange(offset, r.page, r.total),
			...extraHeaders
		};
		if (r.total !== null && offset > 0 && offset >= r.total && r.page === 0)
			throw new ApiError(
				416,
				'PGRST103',
				'Requested range not satisfiable',
				`An offset of ${offset} was requested, but there are only ${r.total} rows.`,
				null,
				{ 'content-range': `*/${r.total}` }
			);
		const notSingle = singleCheck(c.media)?.({ page: String(r.page) });
		if (notSingle) throw notSingle;
		const status = r.total !== null && (offset > 0 || offset + r.page < r.total) ? 206 : 200;
		if (c.media.kind === 'csv')
			return { status, headers, body: toCsv(r.body ?? '[]'), contentType: 'text/csv; charset=utf-8' };
		return {
			status,
			headers,
			body: r.body ?? (c.media.kind === 'object' ? '' : '[]'),
			contentType: jsonType(c.media)
		};
	}

	function jsonType(m: MediaType): string {
		return m.kind === 'object'
			? `application/vnd.pgrst.object+json${m.stripNulls ? '; nulls=stripped' : ''}; charset=utf-8`
			: m.stripNulls
				? 'application/vnd.pgrst.array+json; nulls=stripped; charset=utf-8'
				: 'application/json; charset=utf-8';
	}

	function rootOffset(q: ParsedQuery, range: RequestCtx['range']): number {
		const root = q.levels.get('')!;
		if (range && root.limit === undefined && root.offset === undefined) {
			root.offset = range.offset;
			if (range.limit !== undefined) root.limit = range.limit;
		}
		return root.offset ?? 0;
	}

	function planTable(snap: SchemaSnapshot, c: RequestCtx, name: string): Plan {
		const table = tableOf(snap, c.schema, name);
		const q = parseQuery(c.params);
		const b = new Builder(snap, c.schema, q);
		const p = c.prefs;
		const readOpts = {
			count: p.count,
			maxRows: config.maxRows,
			single: c.media.kind === 'object',
			stripNulls: c.media.stripNulls
		};
		if (c.isRead) {
			const offset = rootOffset(q, c.range);
			const query = buildRead(b, table, readOpts);
			return {
				query,
				respond: (r) => {
					const reply = readReply(c, r, offset, applied(p, ['count']));
					if (c.method === 'HEAD') reply.body = '';
					return reply;
				}
			};
		}
		const ret = p.return ?? 'minimal';
		const returning = ret === 'representation' ? 'rows' : ret === 'headers-only' ? 'keys' : 'none';
		const writeOpts = { ...readOpts, returning, maxRows: undefined } as const;
		let query: BuiltQuery;
		const appliedKeys: (keyof Preferences)[] = ['return', 'count', 'tx', 'handling', 'maxAffected'];
		if (c.method === 'POST') {
			const payload = insertPayload(c.body, q.columns);
			query = buildInsert(b, table, payload, {
				...writeOpts,
				missingDefault: p.missing === 'default',
				resolution: p.resolution,
				onConflict: q.onConflict
			});
			appliedKeys.push('resolution', 'missing');
		} else if (c.method === 'PATCH') {
			query = buildUpdate(b, table, updatePayload(c.body, q.columns), writeOpts);
		} else {
			query = buildDelete(b, table, writeOpts);
		}
		const single = singleCheck(c.media);
		const max = p.handling === 'strict' ? p.maxAffected : undefined;
		const decide: Plan['decide'] =
			single || max !== undefined
				? (row) => {
						if (max !== undefined && Number(row.page) > max)
							return new ApiError(
								400,
								'PGRST124',
								'Query result exceeds max-affected preference constraint',
								`The query affects ${row.page} rows`
							);
						return single?.(row);
					}
				: undefined;
		return {
			query,
			decide,
			respond: (r) => {
				const headers: Record<string, string> = {
					'content-range': `*/${r.total ?? '*'}`,
					...applied(p, appliedKeys)
				};
				const created = c.method === 'POST';
				if (returning === 'rows') {
					if (c.media.kind === 'csv')
						return {
							status: created ? 201 : 200,
							headers,
							body: toCsv(r.body ?? '[]'),
							contentType: 'text/csv; charset=utf-8'
						};
					return { status: created ? 201 : 200, headers, body: r.body ?? '', contentType: jsonType(c.media) };
				}
				if (returning === 'keys' && created && table.primaryKey.length && r.body) {
					const first = (JSON.parse(r.body) as Record<string, unknown>[])[0];
					if (first)
						headers.location =
							`/${table.name}?` +
							table.primaryKey
								.map((k) => `${encodeURIComponent(k)}=eq.${encodeURIComponent(String(first[k]))}`)
								.join('&');
				}
				return { status: created ? 201 : 204, headers };
			}
		};
	}

	function planRpc(snap: SchemaSnapshot, c: RequestCtx, name: string): Plan {
		const fns = findFunctions(snap, c.schema, name);
		const params = c.params;
		let picked: ReturnType<typeof pickFunction>;
		let q: ParsedQuery;
		let args: Record<string, unknown>;
		if (c.isRead) {
			// GET arguments are the query parameters that name a function argument.
			const argNames = new Set(fns.flatMap((f) => f.args.map((a) => a.name)).filter(Boolean));
			q = parseQuery(params, argNames);
			args = Object.fromEntries(q.rpcArgs);
			picked = pickFunction(fns, [...q.rpcArgs.keys()], false);
		} else {
			q = parseQuery(params);
			const single = c.prefs.params === 'single-object';
			if (!single && (c.body === null || typeof c.body !== 'object' || Array.isArray(c.body)))
				throw new ApiError(400, 'PGRST102', 'Empty or invalid json', 'RPC arguments must be a JSON object');
			args = (c.body ?? {}) as Record<string, unknown>;
			picked = pickFunction(fns, single ? [] : Object.keys(args), single);
		}
		if (!picked) throw functionMiss(snap, c.schema, name, Object.keys(args));
		const fn = picked.fn;
		const offset = rootOffset(q, c.range);
		const b = new Builder(snap, c.schema, q);
		const singleResult = fn.returns === 'composite' && !fn.setOf;
		const media: MediaType = singleResult
			? { ...c.media, kind: c.media.kind === 'csv' ? 'csv' : 'object' }
			: c.media;
		const query = buildRpc(
			b,
			fn,
			picked.wholeBody
				? { wholeBody: true, json: c.rawBody.trim() || '{}' }
				: { wholeBody: false, values: args },
			{
				count: c.prefs.count,
				maxRows: config.maxRows,
				single: media.kind === 'object',
				stripNulls: media.stripNulls
			}
		);
		const single = c.media.kind === 'object' && fn.setOf ? singleCheck(c.media) : undefined;
		return {
			query,
			decide: c.isRead ? undefined : single,
			respond: (r) => {
				const headers = applied(c.prefs, ['count', 'tx', 'params']);
				if (fn.returns === 'void') return { status: 204, headers };
				if (fn.returns === 'scalar' && !fn.setOf)
					return {
						status: 200,
						headers,
						body: c.method === 'HEAD' ? '' : (r.body ?? 'null'),
						contentType: jsonType(media)
					};
				const reply = readReply(
					{ ...c, media: singleResult ? { ...media, kind: 'json' } : media },
					r,
					offset,
					headers
				);
				if (singleResult) {
					reply.body = r.body ?? 'null';
					reply.contentType = jsonType(media);
				}
				if (c.method === 'HEAD') reply.body = '';
				return reply;
			}
		};
	}

	function functionMiss(snap: SchemaSnapshot, schema: string, name: string, keys: string[]): SchemaMiss {
		const all = [...snap.functions.values()].flat().filter((f: PgFunction) => f.schema === schema);
		const sameName = all.filter((f) => f.name === name);
		let hint: string | null = null;
		if (sameName.length) {
			const f = sameName[0];
			hint = `Perhaps you meant to call the function ${schema}.${name}(${f.args.map((a) => a.name).join(', ')})`;
		} else {
			const close = closest(
				name,
				all.map((f) => f.name)
			);
			if (close) hint = `Perhaps you meant to call the function ${schema}.${close}`;
		}
		const list = [...keys].sort().join(', ');
		return new SchemaMiss(
			new ApiError(
				404,
				'PGRST202',
				`Could not find the function ${schema}.${name}${list ? `(${list})` : ' without parameters'} in the schema cache`,
				`Searched for the function ${schema}.${name}${list ? ` with parameters ${list}` : ' without parameters'} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
				hint
			)
		);
	}

	function openApi(method: string): Reply {
		if (method !== 'GET' && method !== 'HEAD')
			throw new ApiError(405, 'PGRST117', `Unsupported HTTP method: ${method}`);
		return {
			status: 200,
			headers: {},
			contentType: 'application/openapi+json; charset=utf-8',
			body: JSON.stringify({
				swagger: '2.0',
				info: { title: 'Parley REST (PostgREST-compatible)', version: '12' },
				paths: {}
			})
		};
	}

	async function handle(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext): Promise<void> {
		let reply: Reply;
		const who: { role?: string } = {};
		try {
			reply = await handleRequest(req, ctx, who);
		} catch (e) {
			if (e instanceof ApiError) reply = errorReply(e.status, e.body, e.headers);
			else if (e instanceof PayloadTooLargeError)
				reply = errorReply(413, {
					code: 'PGRST413',
					message: 'Payload Too Large',
					details: `The request body is over ${MAX_BODY_BYTES} bytes`,
					hint: null
				});
			else if (isPgError(e)) {
				const m = fromPgError(e, who.role !== undefined && who.role !== 'anon');
				reply = errorReply(m.status, m.body, m.headers);
			} else {
				console.error('[rest] unexpected error', e);
				reply = errorReply(500, {
					code: 'PGRST000',
					message: 'An unexpected error occurred',
					details: null,
					hint: null
				});
			}
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

/** Rows and columns of a POST body (an object or an array of objects). */
function insertPayload(body: unknown, columns: string[] | undefined): WritePayload {
	const rows = Array.isArray(body) ? body : [body];
	if (!rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r)))
		throw new ApiError(400, 'PGRST102', 'Empty or invalid json');
	const objects = rows as Record<string, unknown>[];
	let cols = columns;
	if (!cols) {
		const first = Object.keys(objects[0] ?? {});
		// Without `columns`, every object must have the same keys, as PostgREST requires.
		const same = objects.every((o) => {
			const keys = Object.keys(o);
			return keys.length === first.length && keys.every((k) => first.includes(k));
		});
		if (!same) throw new ApiError(400, 'PGRST102', 'All object keys must match');
		cols = first;
	}
	return { rows: objects, columns: cols, json: JSON.stringify(objects) };
}

/** Columns and row of a PATCH body (one object). */
function updatePayload(body: unknown, columns: string[] | undefined): WritePayload {
	if (body === null || typeof body !== 'object' || Array.isArray(body))
		throw new ApiError(400, 'PGRST102', 'Empty or invalid json', 'A PATCH body must be a JSON object');
	const row = body as Record<string, unknown>;
	return { rows: [row], columns: columns ?? Object.keys(row), json: JSON.stringify([row]) };
}
