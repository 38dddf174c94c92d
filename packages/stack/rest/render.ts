/**
 * SQL rendering of read plans: a ReadNode tree becomes one statement whose single row carries
 * the total count, the page count and the response body as JSON text, aggregated by PostgreSQL;
 * embeds are lateral joins. Every identifier comes from the plan (so from the schema cache) and
 * is quoted; every value is a bound parameter, so the text depends only on the request's shape
 * and the executor can prepare it once per connection. Also the pieces writes and calls share
 * (render-write.ts): conditions, order, page.
 */
import type { Statement } from '../db/caller.ts';
import { OPERATORS, type FieldRef } from './parser.ts';
import type {
	ColumnFilter,
	Condition,
	Embed,
	LogicPlan,
	OrderBy,
	ReadNode,
	ReadPlan,
	Relationship
} from './plan.ts';

/** Quotes an identifier. */
export function qi(name: string): string {
	return `"${name.replaceAll('"', '""')}"`;
}
/** A relation's quoted, schema-qualified name. */
export const qt = (t: { schema: string; name: string }) => `${qi(t.schema)}.${qi(t.name)}`;

/** Output shape of the final statement's row: `total`, `page`, `body`. */
export interface BuiltQuery extends Statement {
	/** Also run `explain` of this statement for a planned count. */
	explain?: Statement;
}

/** Accumulates parameters and fresh aliases while a statement is rendered. */
export class SqlBuilder {
	readonly params: unknown[] = [];
	#n = 0;
	p(value: unknown): string {
		this.params.push(value);
		return `$${this.params.length}`;
	}
	alias(): string {
		return `_${this.#n++}`;
	}
}

function fieldSql(b: SqlBuilder, alias: string, f: FieldRef): string {
	let sql = `${alias}.${qi(f.name)}`;
	for (const step of f.json) {
		const k = /^-?\d{1,9}$/.test(step.key) ? step.key : `${b.p(step.key)}::text`;
		sql = `${sql}${step.arrow}${k}`;
	}
	return sql;
}

const FTS_FUNCTIONS: Record<string, string> = {
	fts: 'to_tsquery',
	plfts: 'plainto_tsquery',
	phfts: 'phraseto_tsquery',
	wfts: 'websearch_to_tsquery'
};

function filterSql(b: SqlBuilder, alias: string, f: ColumnFilter): string {
	const lhs = fieldSql(b, alias, f.field);
	const o = f.operation;
	let sql: string;
	if (o.op === 'in') sql = `${lhs} = any(${b.p((o as { values: string[] }).values)})`;
	else if (o.op === 'is') {
		const v = (o as { value: string }).value;
		sql = `${lhs} is ${v === 'not_null' ? 'not null' : v}`;
	} else if (o.op in FTS_FUNCTIONS) {
		const { value, config } = o as { value: string; config?: string };
		const cfg = config ? `${b.p(config)}::regconfig, ` : '';
		const vec =
			f.column.typeName === 'tsvector' && f.field.json.length === 0
				? lhs
				: `pg_catalog.to_tsvector(${cfg}${lhs})`;
		sql = `${vec} @@ pg_catalog.${FTS_FUNCTIONS[o.op]}(${cfg}${b.p(value)})`;
	} else {
		const { value, quantifier } = o as { value: string; quantifier?: string };
		const v = o.op === 'like' || o.op === 'ilike' ? value.replaceAll('*', '%') : value;
		const op = OPERATORS[o.op];
		sql = quantifier ? `${lhs} ${op} ${quantifier}(${b.p(v)})` : `${lhs} ${op} ${b.p(v)}`;
	}
	return f.negate ? `not (${sql})` : sql;
}

function logicSql(b: SqlBuilder, alias: string, t: LogicPlan): string {
	const parts = t.children.map((c) => (c.kind === 'logic' ? logicSql(b, alias, c) : filterSql(b, alias, c)));
	const sql = `(${parts.join(t.op === 'and' ? ' and ' : ' or ')})`;
	return t.negate ? `not ${sql}` : sql;
}

/** Conditions on the columns of the relation at `alias`. */
export function whereSql(b: SqlBuilder, alias: string, conds: (ColumnFilter | LogicPlan)[]): string[] {
	return conds.map((c) => (c.kind === 'logic' ? logicSql(b, alias, c) : filterSql(b, alias, c)));
}

function eqCols(a: string, aCols: string[], c: string, cCols: string[]): string {
	return aCols.map((col, i) => `${a}.${qi(col)} = ${c}.${qi(cCols[i])}`).join(' and ');
}

/** The condition joining child rows at `child` to their parent at `parent`. */
function joinSql(rel: Relationship, parent: string, child: string, b: SqlBuilder): string {
	const via = rel.via;
	if ('child' in via) return eqCols(child, via.child, parent, via.parent);
	const ja = b.alias();
	const { junction: j, toParent: f1, toTarget: f2 } = via;
	return `exists (select 1 from ${qt(j)} ${ja} where ${eqCols(ja, f1.columns, parent, f1.refColumns)} and ${eqCols(ja, f2.columns, child, f2.refColumns)})`;
}

/** ` order by ...` of `order` on the relation at `alias`, or ''. */
export function orderSql(b: SqlBuilder, alias: string, order: OrderBy[]): string {
	if (!order.length) return '';
	const terms = order.map((t) => {
		let expr: string;
		if (t.via) {
			const x = b.alias();
			const target = t.via.rel.target;
			expr = `(select ${fieldSql(b, x, t.field)} from ${qt(target)} ${x} where ${joinSql(t.via.rel, alias, x, b)})`;
		} else expr = fieldSql(b, alias, t.field);
		return `${expr}${t.direction ? ` ${t.direction}` : ''}${t.nulls ? ` nulls ${t.nulls}` : ''}`;
	});
	return ' order by ' + terms.join(', ');
}

/** ` limit $n offset $m` of a page, or ''. */
export function limitSql(b: SqlBuilder, page: { limit?: number; offset?: number }): string {
	return (
		(page.limit !== undefined ? ` limit ${b.p(page.limit)}` : '') +
		(page.offset ? ` offset ${b.p(page.offset)}` : '')
	);
}

interface NodeSql {
	cols: string[];
	joins: string[];
	/** The joins the count needs: those of embeds that filter rows. */
	countJoins: string[];
	where: string[];
}

/** Select list, lateral joins of embeds and conditions of one node at `alias`. */
function nodeSql(b: SqlBuilder, node: ReadNode, alias: string): NodeSql {
	const out: NodeSql = { cols: [], joins: [], countJoins: [], where: [] };
	const joined = new Map<Embed, { alias: string; join: string }>();
	for (const item of node.select) {
		if (item.kind === 'star') {
			for (const c of node.table.columnOrder) out.cols.push(`${alias}.${qi(c)}`);
		} else if (item.kind === 'field') {
			let sql = fieldSql(b, alias, item.field);
			if (item.cast) sql = `(${sql})::${item.cast}`;
			out.cols.push(`${sql} as ${qi(item.name)}`);
		} else {
			const { rel, node: childNode, label } = item.embed;
			const ca = b.alias();
			const child = nodeSql(b, childNode, ca);
			const ea = b.alias();
			const ra = b.alias();
			const where = [joinSql(rel, alias, ca, b), ...child.where].join(' and ');
			const inner =
				`select ${rel.toOne ? `pg_catalog.row_to_json(${ra})` : `pg_catalog.json_agg(${ra})`} as v from (` +
				`select ${child.cols.join(', ')} from ${qt(rel.target)} ${ca}${child.joins.join('')} where ${where}` +
				`${orderSql(b, ca, childNode.order)}${limitSql(b, childNode)}) ${ra}`;
			const join = ` left join lateral (${inner}) ${ea} on true`;
			out.joins.push(join);
			out.cols.push(rel.toOne ? `${ea}.v as ${qi(label)}` : `coalesce(${ea}.v, '[]'::json) as ${qi(label)}`);
			joined.set(item.embed, { alias: ea, join });
		}
	}
	for (const c of node.where) out.where.push(conditionSql(b, alias, c, joined, out.countJoins));
	return out;
}

function conditionSql(
	b: SqlBuilder,
	alias: string,
	c: Condition,
	joined: Map<Embed, { alias: string; join: string }>,
	countJoins: string[]
): string {
	if (c.kind === 'logic') return logicSql(b, alias, c);
	if (c.kind === 'filter') return filterSql(b, alias, c);
	const e = joined.get(c.embed)!;
	if (!countJoins.includes(e.join)) countJoins.push(e.join);
	return `${e.alias}.v is ${c.isNull ? 'null' : 'not null'}`;
}

function bodyExpr(rowAlias: string, o: { single: boolean; stripNulls: boolean }): string {
	const agg = `pg_catalog.json_agg(${rowAlias})`;
	const stripped = o.stripNulls ? `pg_catalog.json_strip_nulls(${agg})` : agg;
	return o.single ? `(${stripped}->0)::text` : `coalesce(${stripped}, '[]'::json)::text`;
}

/**
 * The statement of a read plan, from its root relation or from `source` shaped like it (a
 * function's result or a write's returned rows), with `prefix` before it (for `with` clauses).
 */
export function renderRead(
	b: SqlBuilder,
	plan: ReadPlan,
	source: { sql: string; prefix?: string } = { sql: qt(plan.root.table) }
): BuiltQuery {
	const a = b.alias();
	const root = plan.root;
	const lvl = nodeSql(b, root, a);
	const where = lvl.where.length ? ` where ${lvl.where.join(' and ')}` : '';
	const order = orderSql(b, a, root.order);
	const limit = limitSql(b, root);
	const countFrom = `from ${source.sql} ${a}${lvl.countJoins.join('')}${where}`;
	const total =
		plan.count === 'exact' || plan.count === 'estimated'
			? `(select pg_catalog.count(*) ${countFrom})`
			: 'null::int8';
	const r = b.alias();
	const text =
		`${source.prefix ?? ''}select ${total} as total, pg_catalog.count(${r}) as page, ${bodyExpr(r, plan)} as body ` +
		`from (select ${lvl.cols.join(', ')} from ${source.sql} ${a}${lvl.joins.join('')}${where}${order}${limit}) ${r}`;
	const built: BuiltQuery = { text, values: b.params };
	if (plan.count === 'planned' || plan.count === 'estimated')
		built.explain = renumber(`${source.prefix ?? ''}explain (format json) select 1 ${countFrom}`, b.params);
	return built;
}

/** Keeps only the parameters `text` references, renumbered from $1 (a statement must use them all). */
function renumber(text: string, params: unknown[]): Statement {
	const map = new Map<number, number>();
	const values: unknown[] = [];
	const out = text.replace(/\$(\d+)/g, (_, n: string) => {
		let m = map.get(Number(n));
		if (m === undefined) {
			values.push(params[Number(n) - 1]);
			map.set(Number(n), (m = values.length));
		}
		return `$${m}`;
	});
	return { text: out, values };
}
