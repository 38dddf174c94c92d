/**
 * Write planning: POST (insert, upsert), PATCH and DELETE on a table become a MutatePlan: the
 * body checked and its columns resolved, the rows a PATCH or DELETE touches (root filters, and
 * order and limit through ctid), and the read of the representation the `Prefer: return` asks for.
 */
import { errors } from './errors.ts';
import { payloadColumns } from './lookup.ts';
import type { ParsedQuery } from './parser.ts';
import type { MutatePlan, ReadShape, WritePayload, WriteTarget } from './plan.ts';
import { planOrder, planRead, planWhere, type QueryPlanner } from './plan-read.ts';
import type { Preferences } from './prefer.ts';
import type { Table } from './schema-cache.ts';

/** Rows and columns of a POST body (an object or an array of objects). */
function insertPayload(body: unknown, columns: string[] | undefined): WritePayload {
	const rows = Array.isArray(body) ? body : [body];
	if (!rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r)))
		throw errors.invalidBody();
	const objects = rows as Record<string, unknown>[];
	let cols = columns;
	if (!cols) {
		const first = Object.keys(objects[0] ?? {});
		// Without `columns`, every object must have the same keys, as PostgREST requires.
		const same = objects.every((o) => {
			const keys = Object.keys(o);
			return keys.length === first.length && keys.every((k) => first.includes(k));
		});
		if (!same) throw errors.keysMismatch();
		cols = first;
	}
	return { rows: objects, columns: cols, json: JSON.stringify(objects) };
}

/** Columns and row of a PATCH body (one object). */
function updatePayload(body: unknown, columns: string[] | undefined): WritePayload {
	if (body === null || typeof body !== 'object' || Array.isArray(body))
		throw errors.invalidBody('A PATCH body must be a JSON object');
	const row = body as Record<string, unknown>;
	return { rows: [row], columns: columns ?? Object.keys(row), json: JSON.stringify([row]) };
}

/** The rows a PATCH or DELETE touches: root filters, and order/limit when limited. */
function planTarget(p: QueryPlanner, table: Table): WriteTarget {
	const opts = p.level([]);
	if (opts.limit === undefined && opts.offset === undefined) return { where: planWhere(table, opts) };
	if (table.kind !== 'table') throw errors.notImplemented('order/limit on writes needs a table');
	const where = planWhere(table, opts);
	return {
		where,
		page: { order: planOrder(table, opts.order, new Map()), limit: opts.limit, offset: opts.offset }
	};
}

/** The write `method` (POST, PATCH or DELETE) of `body` on `table`. */
export function planMutate(
	p: QueryPlanner,
	table: Table,
	method: string,
	body: unknown,
	prefs: Preferences,
	shape: Omit<ReadShape, 'count'>
): MutatePlan {
	const q: ParsedQuery = p.q;
	const ret = prefs.return ?? 'minimal';
	const returning = ret === 'representation' ? 'rows' : ret === 'headers-only' ? 'keys' : 'none';
	const base = { table, returning, count: Boolean(prefs.count) } as const;
	let plan: MutatePlan;
	if (method === 'POST') {
		const payload = insertPayload(body, q.columns);
		payloadColumns(table, payload.columns);
		let upsert: { columns: string[]; merge: boolean } | undefined;
		if (prefs.resolution) {
			const conflict = q.onConflict ?? table.primaryKey;
			if (!conflict.length)
				throw errors.notImplemented('Upsert needs a primary key or an on_conflict parameter');
			payloadColumns(table, conflict);
			upsert = { columns: conflict, merge: prefs.resolution === 'merge-duplicates' };
		}
		plan = { ...base, kind: 'insert', payload, missingDefault: prefs.missing === 'default', upsert };
	} else if (method === 'PATCH') {
		const payload = updatePayload(body, q.columns);
		payloadColumns(table, payload.columns);
		plan = { ...base, kind: 'update', payload, target: planTarget(p, table) };
	} else plan = { ...base, kind: 'delete', target: planTarget(p, table) };
	if (returning !== 'none') {
		// The representation reads the written rows; headers-only reads just their keys.
		const select =
			returning === 'keys'
				? table.primaryKey.map((k) => ({ kind: 'field' as const, field: { name: k, json: [] } }))
				: undefined;
		plan.read = planRead(
			p,
			table,
			{ ...shape, count: plan.count ? 'exact' : undefined },
			{ applyRootFilters: false, select }
		);
	}
	return plan;
}
