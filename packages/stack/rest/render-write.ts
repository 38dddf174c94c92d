/**
 * SQL rendering of write and call plans: INSERT (upsert), UPDATE and DELETE as a `pgrst_source`
 * CTE whose rows the representation reads (render.ts), and function calls, whose composite rows
 * are read like a table and whose scalars are aggregated directly. Each statement answers one row
 * of `total`, `page` and `body`, like a read.
 */
import type { CallArgs, CallPlan, MutatePlan, WriteTarget } from './plan.ts';
import { limitSql, orderSql, qi, qt, renderRead, SqlBuilder, whereSql, type BuiltQuery } from './render.ts';
import type { Column, PgFunction, Table } from './schema-cache.ts';

/** A JSON value as a text parameter for a typed cast (VALUES rows of `missing=default`). */
function valueParam(v: unknown, col: Column): unknown {
	if (v === null || v === undefined) return null;
	if (typeof v === 'object') {
		if (Array.isArray(v) && col.typeName.startsWith('_')) return v;
		return JSON.stringify(v);
	}
	return String(v);
}

function insertSql(b: SqlBuilder, plan: Extract<MutatePlan, { kind: 'insert' }>): string {
	const { table, payload } = plan;
	const cols = payload.columns.map(qi).join(', ');
	const target = qt(table);
	let insert: string;
	if (payload.columns.length === 0) {
		insert = `insert into ${target} select from pg_catalog.json_array_elements(${b.p(payload.json)}::json)`;
	} else if (plan.missingDefault) {
		// Absent keys take the column default, which only VALUES can express row by row.
		const rows = payload.rows.map(
			(row) =>
				'(' +
				payload.columns
					.map((c) => {
						if (!(c in row)) return 'default';
						const col = table.columns.get(c)!;
						return `${b.p(valueParam(row[c], col))}::${col.type}`;
					})
					.join(', ') +
				')'
		);
		insert = `insert into ${target} (${cols}) values ${rows.join(', ')}`;
	} else {
		insert =
			`insert into ${target} (${cols}) select ${cols} from ` +
			`pg_catalog.json_populate_recordset(null::${target}, ${b.p(payload.json)}::json) _b`;
	}
	if (plan.upsert) {
		const conflict = plan.upsert.columns.map(qi).join(', ');
		const updates = payload.columns.map((c) => `${qi(c)} = excluded.${qi(c)}`);
		insert +=
			!plan.upsert.merge || updates.length === 0
				? ` on conflict (${conflict}) do nothing`
				: ` on conflict (${conflict}) do update set ${updates.join(', ')}`;
	}
	return insert + (plan.returning === 'none' ? ' returning 1' : ` returning ${target}.*`);
}

/** ` where ...` choosing a PATCH's or DELETE's rows, through their ctid when paged. */
function targetSql(b: SqlBuilder, table: Table, alias: string, target: WriteTarget): string {
	if (target.page) {
		const x = b.alias();
		const inner = whereSql(b, x, target.where);
		const sub =
			`select ${x}.ctid from ${qt(table)} ${x}${inner.length ? ` where ${inner.join(' and ')}` : ''}` +
			`${orderSql(b, x, target.page.order)}${limitSql(b, target.page)}`;
		return ` where ${alias}.ctid = any(array(${sub}))`;
	}
	const conds = whereSql(b, alias, target.where);
	return conds.length ? ` where ${conds.join(' and ')}` : '';
}

/** The statement of a write plan. */
export function renderMutate(plan: MutatePlan): BuiltQuery {
	const b = new SqlBuilder();
	const { table } = plan;
	let write: string;
	if (plan.kind === 'insert') write = insertSql(b, plan);
	else {
		const a = b.alias();
		const returned = ` returning ${plan.returning === 'none' ? '1' : `${a}.*`}`;
		if (plan.kind === 'update') {
			const target = qt(table);
			const sets = plan.payload.columns.map((c) => `${qi(c)} = _b.${qi(c)}`).join(', ');
			const row = `(${b.p(plan.payload.json)}::json)->0`;
			write =
				`update ${target} ${a} set ${sets} from pg_catalog.json_populate_record(null::${target}, ${row}) _b` +
				`${targetSql(b, table, a, plan.target)}${returned}`;
		} else write = `delete from ${qt(table)} ${a}${targetSql(b, table, a, plan.target)}${returned}`;
	}
	const cte = `with pgrst_source as (${write}) `;
	if (!plan.read) {
		const text = `${cte}select ${plan.count ? `pg_catalog.count(*)` : 'null::int8'} as total, pg_catalog.count(*) as page, null::text as body from pgrst_source`;
		return { text, values: b.params };
	}
	return renderRead(b, plan.read, { sql: 'pgrst_source', prefix: cte });
}

/** A call of `fn` with named arguments (a JSON object) or the whole body as its json argument. */
function callSql(b: SqlBuilder, fn: PgFunction, args: CallArgs): { from: string; call: string } {
	const name = qt(fn);
	if (args.wholeBody) return { from: '', call: `${name}(${b.p(args.json)}::${fn.args[0].type})` };
	const given = fn.args.filter((a) => a.name in args.values);
	if (!given.length) return { from: '', call: `${name}()` };
	const record = Object.fromEntries(given.map((a) => [a.name, args.values[a.name]]));
	const defs = given.map((a) => `${qi(a.name)} ${a.type}`).join(', ');
	return {
		from: `pg_catalog.json_to_record(${b.p(JSON.stringify(record))}::json) as _a(${defs})`,
		call: `${name}(${given.map((a) => `${qi(a.name)} := _a.${qi(a.name)}`).join(', ')})`
	};
}

/** The statement of a call plan, shaped like a read. */
export function renderCall(plan: CallPlan): BuiltQuery {
	const b = new SqlBuilder();
	const { fn } = plan;
	const { from, call } = callSql(b, fn, plan.args);
	const fromClause = (alias: string) =>
		from ? `${from} cross join lateral ${call} ${alias}` : `${call} ${alias}`;
	if (plan.read) {
		const f = b.alias();
		const prefix = `with pgrst_source as materialized (select ${f}.* from ${fromClause(f)}) `;
		return renderRead(b, plan.read, { sql: 'pgrst_source', prefix });
	}
	if (fn.returns === 'void' || !fn.setOf) {
		// A void result is still read (as text) so the call cannot be planned away.
		const value = fn.returns === 'void' ? `(${call})::text` : `pg_catalog.to_json(${call})::text`;
		const text = `select null::int8 as total, 1::int8 as page, ${value} as body${from ? ` from ${from}` : ''}`;
		return { text, values: b.params };
	}
	const f = b.alias();
	const r = b.alias();
	const limit = limitSql(b, plan);
	const total = plan.count === 'exact' ? `(select pg_catalog.count(*) from pgrst_source)` : 'null::int8';
	const text =
		`with pgrst_source as materialized (select ${f}.v from ${fromClause(`${f}(v)`)}) ` +
		`select ${total} as total, pg_catalog.count(${r}) as page, ` +
		(plan.single
			? `(pg_catalog.json_agg(${r}.v)->0)::text`
			: `coalesce(pg_catalog.json_agg(${r}.v), '[]'::json)::text`) +
		` as body from (select v from pgrst_source${limit}) ${r}`;
	return { text, values: b.params };
}
