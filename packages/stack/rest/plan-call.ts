/**
 * Call planning: picks the overload of `/rpc/name` that the arguments name (query parameters
 * for GET, the body's keys for POST, or the whole body for a single json argument), fails as
 * PostgREST does when none or several fit, and plans how the result is read: a composite result
 * as a table (select, filters, embeds), a set of scalars as a page, anything else as one value.
 */
import { errors } from './errors.ts';
import { closest, SchemaMiss } from './lookup.ts';
import { parseQuery } from './parser.ts';
import type { CallArgs, CallPlan, ReadShape } from './plan.ts';
import { planRead, QueryPlanner, rootPage } from './plan-read.ts';
import type { ApiRequest } from './request.ts';
import {
	findFunctions,
	findTable,
	type ForeignKey,
	type PgFunction,
	type SchemaSnapshot,
	type Table
} from './schema-cache.ts';

const JSONISH = new Set(['json', 'jsonb']);

/** Picks the overload of `fns` callable with argument names `keys`. */
export function pickFunction(
	fns: PgFunction[],
	keys: string[],
	singleObject: boolean
): { fn: PgFunction; wholeBody: boolean } | undefined {
	if (singleObject) {
		const one = fns.filter((f) => f.args.length === 1 && JSONISH.has(f.args[0].typeName));
		if (one.length === 1) return { fn: one[0], wholeBody: true };
	}
	const named = fns.filter(
		(f) =>
			f.args.every((a) => a.name !== '' || a.hasDefault) &&
			keys.every((k) => f.args.some((a) => a.name === k)) &&
			f.args.every((a) => a.hasDefault || keys.includes(a.name))
	);
	if (named.length > 1) {
		// Prefer the overload whose arguments are exactly those given.
		const exact = named.filter((f) => f.args.length === keys.length);
		if (exact.length === 1) return { fn: exact[0], wholeBody: false };
		throw errors.ambiguousFunction(named.map(signature));
	}
	if (named.length === 1) return { fn: named[0], wholeBody: false };
	const unnamed = fns.filter(
		(f) => f.args.length === 1 && f.args[0].name === '' && JSONISH.has(f.args[0].typeName)
	);
	if (unnamed.length === 1) return { fn: unnamed[0], wholeBody: true };
	return undefined;
}

/** `schema.fn(a => type, ...)` for messages. */
export function signature(f: PgFunction): string {
	return `${f.schema}.${f.name}(${f.args.map((a) => `${a.name ? `${a.name} => ` : ''}${a.typeName}`).join(', ')})`;
}

/** PGRST202 for `name` called with `keys`, hinting at a same-named or similarly named function. */
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
	return new SchemaMiss(errors.noFunction(schema, name, keys, hint));
}

/** A table-like view of a function's composite result, for select/filter/embedding. */
export function functionResultTable(snap: SchemaSnapshot, fn: PgFunction): Table {
	const t = findTable(snap, fn.schema, fn.returnTypeName);
	if (t && t.columns.size === fn.columns.size) return t;
	return {
		schema: fn.schema,
		name: fn.name,
		kind: 'view',
		columns: fn.columns,
		columnOrder: [...fn.columns.keys()],
		primaryKey: [],
		uniques: [],
		foreignKeys: [] as ForeignKey[]
	};
}

/** What a call is planned from: the request, of which the path named a function. */
export type CallRequest = Pick<
	ApiRequest,
	'schema' | 'isRead' | 'params' | 'body' | 'rawBody' | 'prefs' | 'media' | 'range'
>;

/** The plan of the call `c`. */
export function planCall(snap: SchemaSnapshot, c: CallRequest, name: string, maxRows: number): CallPlan {
	const fns = findFunctions(snap, c.schema, name);
	let picked: ReturnType<typeof pickFunction>;
	let p: QueryPlanner;
	let values: Record<string, unknown>;
	if (c.isRead) {
		// GET arguments are the query parameters that name a function argument.
		const argNames = new Set(fns.flatMap((f) => f.args.map((a) => a.name)).filter(Boolean));
		p = new QueryPlanner(snap, parseQuery(c.params, argNames));
		values = Object.fromEntries(p.q.rpcArgs);
		picked = pickFunction(fns, [...p.q.rpcArgs.keys()], false);
	} else {
		p = new QueryPlanner(snap, parseQuery(c.params));
		const single = c.prefs.params === 'single-object';
		if (!single && (c.body === null || typeof c.body !== 'object' || Array.isArray(c.body)))
			throw errors.invalidBody('RPC arguments must be a JSON object');
		values = (c.body ?? {}) as Record<string, unknown>;
		picked = pickFunction(fns, single ? [] : Object.keys(values), single);
	}
	if (!picked) throw functionMiss(snap, c.schema, name, Object.keys(values));
	const fn = picked.fn;
	const args: CallArgs = picked.wholeBody
		? { wholeBody: true, json: c.rawBody.trim() || '{}' }
		: { wholeBody: false, values };
	// A single composite is one object, unless the client asked for CSV.
	const singleResult = fn.returns === 'composite' && !fn.setOf;
	const shape: ReadShape = {
		count: c.prefs.count,
		single: c.media.kind === 'object' || (singleResult && c.media.kind !== 'csv'),
		stripNulls: c.media.stripNulls
	};
	if (fn.returns === 'composite') {
		const read = planRead(p, functionResultTable(snap, fn), shape, { maxRows, range: c.range });
		return { ...shape, fn, args, read };
	}
	// The root level is not marked used: a `limit` or `offset` on it fails in checkLevels.
	const root = p.q.levels.get('')!;
	const shaped =
		root.filters.length || root.logic.length || root.order || p.q.select.some((s) => s.kind !== 'star');
	if (shaped)
		throw errors.notImplemented(
			'select, filters and order apply to functions returning rows (composite types), not scalars'
		);
	p.checkLevels();
	return { ...shape, fn, args, ...rootPage(root, maxRows, c.range) };
}
