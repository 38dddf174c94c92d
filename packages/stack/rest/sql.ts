/**
 * SQL builder: turns a parsed request into one statement whose single row carries the total
 * count, the page count and the response body as JSON text, aggregated by PostgreSQL. Every
 * identifier comes from the schema cache and is quoted; every value is a bound parameter, so the
 * statement text depends only on the request's shape and can be prepared once per connection.
 */
import type { Statement } from '../db/caller.ts';
import { ApiError } from './errors.ts';
import {
	OPERATORS,
	type FieldRef,
	type Filter,
	type LevelOptions,
	type LogicTree,
	type OrderTerm,
	type ParsedQuery,
	type SelectItem
} from './parser.ts';
import type { Column, ForeignKey, PgFunction, SchemaSnapshot, Table } from './schema-cache.ts';
import { findTable } from './schema-cache.ts';

/** Quotes an identifier. */
export function qi(name: string): string {
	return `"${name.replaceAll('"', '""')}"`;
}
const qt = (t: { schema: string; name: string }) => `${qi(t.schema)}.${qi(t.name)}`;

/**
 * A lookup that failed against the schema cache. The handler reloads the cache once and retries
 * before answering with `error`, since the object may have been created a moment ago.
 */
export class SchemaMiss extends Error {
	override name = 'SchemaMiss';
	readonly error: ApiError;
	constructor(error: ApiError) {
		super(error.message);
		this.error = error;
	}
}

/** Output shape of the final statement's row: `total`, `page`, `body`. */
export interface BuiltQuery extends Statement {
	/** Also run `explain` of this statement for a planned count. */
	explain?: Statement;
}

/** A resolved relationship from a parent relation to an embedded one. */
interface Relationship {
	target: Table;
	toOne: boolean;
	/** Join condition between the parent alias and the target alias. */
	cond(parent: string, child: string, b: Builder): string;
	describe: { cardinality: string; relationship: string };
}

interface LevelSql {
	cols: string[];
	joins: string[];
	countJoins: string[];
	where: string[];
	opts: LevelOptions;
	embeds: Map<string, { alias: string; join: string; rel: Relationship }>;
}

const emptyLevel = (): LevelOptions => ({ filters: [], logic: [] });

const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\[\])?$/;

/** Accumulates parameters and fresh aliases while a statement is built. */
export class Builder {
	readonly snap: SchemaSnapshot;
	readonly schema: string;
	readonly q: ParsedQuery;
	readonly params: unknown[] = [];
	readonly visited = new Set<string>();
	#n = 0;
	constructor(snap: SchemaSnapshot, schema: string, q: ParsedQuery) {
		this.snap = snap;
		this.schema = schema;
		this.q = q;
	}
	p(value: unknown): string {
		this.params.push(value);
		return `$${this.params.length}`;
	}
	alias(): string {
		return `_${this.#n++}`;
	}
	level(path: string[]): LevelOptions {
		const key = path.join('.');
		this.visited.add(key);
		return this.q.levels.get(key) ?? emptyLevel();
	}
	/** Fails on `embedded.col=...` parameters naming no embedded resource (PGRST108). */
	checkLevels(): void {
		for (const [key, opts] of this.q.levels) {
			if (this.visited.has(key)) continue;
			const used = opts.filters.length || opts.logic.length || opts.order || opts.limit !== undefined;
			if (used || opts.offset !== undefined)
				throw new ApiError(
					400,
					'PGRST108',
					`'${key}' is not an embedded resource in this request`,
					null,
					`Verify that '${key}' is included in the 'select' query parameter.`
				);
		}
	}
}

function columnOf(table: Table, name: string): Column {
	const col = table.columns.get(name);
	if (col) return col;
	const close = [...table.columns.keys()].find((c) => c.toLowerCase() === name.toLowerCase());
	throw new SchemaMiss(
		new ApiError(
			400,
			'42703',
			`column ${table.name}.${name} does not exist`,
			null,
			close ? `Perhaps you meant to reference the column "${table.name}.${close}".` : null
		)
	);
}

function fieldExpr(b: Builder, table: Table, alias: string, f: FieldRef): { sql: string; col: Column } {
	const col = columnOf(table, f.name);
	let sql = `${alias}.${qi(f.name)}`;
	for (const step of f.json) {
		const k = /^-?\d{1,9}$/.test(step.key) ? step.key : `${b.p(step.key)}::text`;
		sql = `${sql}${step.arrow}${k}`;
	}
	return { sql, col };
}

const FTS_FUNCTIONS: Record<string, string> = {
	fts: 'to_tsquery',
	plfts: 'plainto_tsquery',
	phfts: 'phraseto_tsquery',
	wfts: 'websearch_to_tsquery'
};

function filterSql(b: Builder, table: Table, alias: string, f: Filter): string {
	const { sql: lhs, col } = fieldExpr(b, table, alias, f.field);
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
			col.typeName === 'tsvector' && f.field.json.length === 0 ? lhs : `pg_catalog.to_tsvector(${cfg}${lhs})`;
		sql = `${vec} @@ pg_catalog.${FTS_FUNCTIONS[o.op]}(${cfg}${b.p(value)})`;
	} else {
		const { value, quantifier } = o as { value: string; quantifier?: string };
		const v = o.op === 'like' || o.op === 'ilike' ? value.replaceAll('*', '%') : value;
		const op = OPERATORS[o.op];
		sql = quantifier ? `${lhs} ${op} ${quantifier}(${b.p(v)})` : `${lhs} ${op} ${b.p(v)}`;
	}
	return f.negate ? `not (${sql})` : sql;
}

function logicSql(b: Builder, table: Table, alias: string, t: LogicTree): string {
	const parts = t.children.map((c) =>
		c.kind === 'logic' ? logicSql(b, table, alias, c) : filterSql(b, table, alias, c)
	);
	const sql = `(${parts.join(t.op === 'and' ? ' and ' : ' or ')})`;
	return t.negate ? `not ${sql}` : sql;
}

/** Conditions of a level's filters and logic trees on `alias` (no embeds). */
export function whereOf(b: Builder, table: Table, alias: string, opts: LevelOptions): string[] {
	return [
		...opts.filters.map((f) => filterSql(b, table, alias, f)),
		...opts.logic.map((t) => logicSql(b, table, alias, t))
	];
}

function eqCols(a: string, aCols: string[], c: string, cCols: string[]): string {
	return aCols.map((col, i) => `${a}.${qi(col)} = ${c}.${qi(cCols[i])}`).join(' and ');
}

function isUnique(table: Table, cols: string[]): boolean {
	return table.uniques.some((u) => u.length === cols.length && u.every((c) => cols.includes(c)));
}

/** Finds the relationship `name` (table, foreign key or column name, with `!hint`) from `parent`. */
function resolveRelationship(b: Builder, parent: Table, name: string, hint?: string): Relationship {
	const found: (Relationship & { keys: string[] })[] = [];
	const tablesInSchema = [...b.snap.tables.values()].filter((t) => t.schema === parent.schema);
	// Many-to-one (or one-to-one) through the parent's own foreign keys.
	for (const fk of parent.foreignKeys) {
		const target = findTable(b.snap, parent.schema, fk.refTable);
		if (!target) continue;
		const named =
			fk.refTable === name || fk.name === name || (fk.columns.length === 1 && fk.columns[0] === name);
		if (!named) continue;
		found.push({
			target,
			toOne: true,
			keys: [fk.name, ...fk.columns],
			cond: (p, c) => eqCols(c, fk.refColumns, p, fk.columns),
			describe: {
				cardinality: isUnique(parent, fk.columns) ? 'one-to-one' : 'many-to-one',
				relationship: `${fk.name} using ${parent.name}(${fk.columns.join(', ')}) and ${fk.refTable}(${fk.refColumns.join(', ')})`
			}
		});
	}
	// One-to-many (or one-to-one) through foreign keys referencing the parent.
	for (const t of tablesInSchema) {
		for (const fk of t.foreignKeys) {
			if (fk.refTable !== parent.name) continue;
			if (!(t.name === name || fk.name === name)) continue;
			const one = isUnique(t, fk.columns);
			found.push({
				target: t,
				toOne: one,
				keys: [fk.name, ...fk.columns],
				cond: (p, c) => eqCols(c, fk.columns, p, fk.refColumns),
				describe: {
					cardinality: one ? 'one-to-one' : 'one-to-many',
					relationship: `${fk.name} using ${t.name}(${fk.columns.join(', ')}) and ${parent.name}(${fk.refColumns.join(', ')})`
				}
			});
		}
	}
	// Many-to-many through a junction whose primary key covers both foreign keys.
	const target = findTable(b.snap, parent.schema, name);
	if (target) {
		for (const j of tablesInSchema) {
			const toParent = j.foreignKeys.filter((fk) => fk.refTable === parent.name);
			const toTarget = j.foreignKeys.filter((fk) => fk.refTable === target.name);
			for (const f1 of toParent)
				for (const f2 of toTarget) {
					if (f1 === f2) continue;
					const covered = [...f1.columns, ...f2.columns].every((c) => j.primaryKey.includes(c));
					if (!covered) continue;
					found.push({
						target,
						toOne: false,
						keys: [j.name, f1.name, f2.name],
						cond: (p, c, bb) => {
							const ja = bb.alias();
							return `exists (select 1 from ${qt(j)} ${ja} where ${eqCols(ja, f1.columns, p, f1.refColumns)} and ${eqCols(ja, f2.columns, c, f2.refColumns)})`;
						},
						describe: {
							cardinality: 'many-to-many',
							relationship: `${j.name} using ${f1.name}(${f1.columns.join(', ')}) and ${f2.name}(${f2.columns.join(', ')})`
						}
					});
				}
		}
	}
	const matches = hint ? found.filter((r) => r.keys.includes(hint) || r.target.name === hint) : found;
	if (matches.length === 1) return matches[0];
	if (matches.length === 0) {
		throw new SchemaMiss(
			new ApiError(
				400,
				'PGRST200',
				`Could not find a relationship between '${parent.name}' and '${name}' in the schema cache`,
				`Searched for a foreign key relationship between '${parent.name}' and '${name}'${hint ? ` using the hint '${hint}'` : ''} in the schema '${parent.schema}', but no matches were found.`,
				null
			)
		);
	}
	throw new ApiError(
		300,
		'PGRST201',
		`Could not embed because more than one relationship was found for '${parent.name}' and '${name}'`,
		matches.map((m) => ({ ...m.describe, embedding: `${parent.name} with ${m.target.name}` })),
		`Try changing '${name}' to one of the following: ${matches.map((m) => `'${name}!${m.keys[0]}'`).join(', ')}. Find the desired relationship in the 'details' key.`
	);
}

function orderSql(b: Builder, table: Table, alias: string, lvl: LevelSql): string {
	const terms = lvl.opts.order;
	if (!terms?.length) return '';
	return (
		' order by ' +
		terms
			.map((t: OrderTerm) => {
				let expr: string;
				if (t.relation) {
					const e = lvl.embeds.get(t.relation);
					if (!e)
						throw new ApiError(
							400,
							'PGRST108',
							`'${t.relation}' is not an embedded resource in this request`,
							null,
							`Verify that '${t.relation}' is included in the 'select' query parameter.`
						);
					if (!e.rel.toOne)
						throw new ApiError(
							400,
							'PGRST118',
							`A related order on '${t.relation}' is not possible`,
							`'${table.name}' and '${t.relation}' do not form a many-to-one or one-to-one relationship`
						);
					const x = b.alias();
					const f = fieldExpr(b, e.rel.target, x, t.field).sql;
					expr = `(select ${f} from ${qt(e.rel.target)} ${x} where ${e.rel.cond(alias, x, b)})`;
				} else expr = fieldExpr(b, table, alias, t.field).sql;
				return `${expr}${t.direction ? ` ${t.direction}` : ''}${t.nulls ? ` nulls ${t.nulls}` : ''}`;
			})
			.join(', ')
	);
}

function limitSql(b: Builder, opts: LevelOptions, cap?: number): string {
	let limit = opts.limit;
	if (cap !== undefined && (limit === undefined || limit > cap)) limit = cap;
	return (
		(limit !== undefined ? ` limit ${b.p(limit)}` : '') + (opts.offset ? ` offset ${b.p(opts.offset)}` : '')
	);
}

/**
 * Select list, lateral joins for embeds and conditions of one level. `applyFilters` is false for
 * the root of a write's representation, whose rows were already chosen by the write itself.
 */
function levelSql(
	b: Builder,
	table: Table,
	alias: string,
	items: SelectItem[],
	path: string[],
	applyFilters = true
): LevelSql {
	const opts = b.level(path);
	const lvl: LevelSql = { cols: [], joins: [], countJoins: [], where: [], opts, embeds: new Map() };
	for (const item of items) {
		if (item.kind === 'star') {
			for (const c of table.columnOrder) lvl.cols.push(`${alias}.${qi(c)}`);
		} else if (item.kind === 'field') {
			let { sql } = fieldExpr(b, table, alias, item.field);
			if (item.cast) {
				if (!TYPE_NAME.test(item.cast)) throw new ApiError(400, 'PGRST100', `invalid cast ${item.cast}`);
				sql = `(${sql})::${item.cast}`;
			}
			const last = item.field.json[item.field.json.length - 1];
			const name = item.alias ?? (last ? last.key : item.field.name);
			lvl.cols.push(`${sql} as ${qi(name)}`);
		} else {
			const rel = resolveRelationship(b, table, item.name, item.hint);
			const label = item.alias ?? item.name;
			const ca = b.alias();
			const child = levelSql(b, rel.target, ca, item.children, [...path, label]);
			const ea = b.alias();
			const ra = b.alias();
			const where = [rel.cond(alias, ca, b), ...child.where].join(' and ');
			const inner =
				`select ${rel.toOne ? `pg_catalog.row_to_json(${ra})` : `pg_catalog.json_agg(${ra})`} as v from (` +
				`select ${child.cols.join(', ')} from ${qt(rel.target)} ${ca}${child.joins.join('')} where ${where}` +
				`${orderSql(b, rel.target, ca, child)}${limitSql(b, child.opts)}) ${ra}`;
			const join = ` left join lateral (${inner}) ${ea} on true`;
			lvl.joins.push(join);
			lvl.cols.push(rel.toOne ? `${ea}.v as ${qi(label)}` : `coalesce(${ea}.v, '[]'::json) as ${qi(label)}`);
			lvl.embeds.set(label, { alias: ea, join, rel });
			if (item.inner) {
				lvl.where.push(`${ea}.v is not null`);
				lvl.countJoins.push(join);
			}
		}
	}
	if (!applyFilters) return lvl;
	for (const f of opts.filters) {
		const e = lvl.embeds.get(f.field.name);
		if (!table.columns.has(f.field.name) && e && f.operation.op === 'is' && f.field.json.length === 0) {
			const v = (f.operation as { value: string }).value;
			if (v !== 'null' && v !== 'not_null')
				throw new ApiError(400, 'PGRST100', `"failed to parse filter (is.${v})" on an embedded resource`);
			const isNull = (v === 'null') !== f.negate;
			lvl.where.push(`${e.alias}.v is ${isNull ? 'null' : 'not null'}`);
			if (!lvl.countJoins.includes(e.join)) lvl.countJoins.push(e.join);
		} else lvl.where.push(filterSql(b, table, alias, f));
	}
	for (const t of opts.logic) lvl.where.push(logicSql(b, table, alias, t));
	return lvl;
}

export interface ReadOptions {
	/** `exact`: count in the same statement; `planned`: an `explain` beside it. */
	count?: 'exact' | 'planned' | 'estimated';
	maxRows?: number;
	/** Body as a single object (the first row) instead of an array. */
	single: boolean;
	stripNulls: boolean;
}

function bodyExpr(rowAlias: string, o: ReadOptions): string {
	const agg = `pg_catalog.json_agg(${rowAlias})`;
	const stripped = o.stripNulls ? `pg_catalog.json_strip_nulls(${agg})` : agg;
	return o.single ? `(${stripped}->0)::text` : `coalesce(${stripped}, '[]'::json)::text`;
}

/**
 * A read of `table` (or of `sourceSql` shaped like it, e.g. a function's result or a write's
 * returned rows), with `prefix` placed before the statement (for `with` clauses).
 */
export function buildRead(
	b: Builder,
	table: Table,
	o: ReadOptions,
	source: { sql: string; prefix?: string; applyRootFilters?: boolean } = { sql: qt(table) }
): BuiltQuery {
	const a = b.alias();
	const applyFilters = source.applyRootFilters ?? true;
	const lvl = levelSql(b, table, a, b.q.select, [], applyFilters);
	b.checkLevels();
	const where = lvl.where.length ? ` where ${lvl.where.join(' and ')}` : '';
	const order = orderSql(b, table, a, lvl);
	const limit = applyFilters ? limitSql(b, lvl.opts, o.maxRows) : '';
	const countFrom = `from ${source.sql} ${a}${lvl.countJoins.join('')}${where}`;
	const total =
		o.count === 'exact' || o.count === 'estimated'
			? `(select pg_catalog.count(*) ${countFrom})`
			: 'null::int8';
	const r = b.alias();
	const text =
		`${source.prefix ?? ''}select ${total} as total, pg_catalog.count(${r}) as page, ${bodyExpr(r, o)} as body ` +
		`from (select ${lvl.cols.join(', ')} from ${source.sql} ${a}${lvl.joins.join('')}${where}${order}${limit}) ${r}`;
	const built: BuiltQuery = { text, values: b.params };
	if (o.count === 'planned' || o.count === 'estimated')
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

/** The table named by the request path, or a PGRST205 miss. */
export function tableOf(snap: SchemaSnapshot, schema: string, name: string): Table {
	const t = findTable(snap, schema, name);
	if (t) return t;
	const others = [...snap.tables.values()].filter((x) => x.schema === schema).map((x) => x.name);
	const close = closest(name, others);
	throw new SchemaMiss(
		new ApiError(
			404,
			'PGRST205',
			`Could not find the table '${schema}.${name}' in the schema cache`,
			null,
			close ? `Perhaps you meant the table '${schema}.${close}'` : null
		)
	);
}

/** The candidate closest to `name` by edit distance, if reasonably close. */
export function closest(name: string, candidates: string[]): string | undefined {
	let best: string | undefined;
	let bestD = Infinity;
	for (const c of candidates) {
		const d = distance(name, c);
		if (d < bestD) [best, bestD] = [c, d];
	}
	return bestD <= Math.max(2, Math.floor(name.length / 2)) ? best : undefined;
}

function distance(a: string, b: string): number {
	const row = Array.from({ length: b.length + 1 }, (_, i) => i);
	for (let i = 1; i <= a.length; i++) {
		let prev = row[0]++;
		for (let j = 1; j <= b.length; j++) {
			const cur = row[j];
			row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
			prev = cur;
		}
	}
	return row[b.length];
}

/** The body of a write: rows as objects, and the columns they set. */
export interface WritePayload {
	rows: Record<string, unknown>[];
	columns: string[];
	/** The raw JSON text of `rows` (an array), passed as one parameter. */
	json: string;
}

function payloadColumns(table: Table, columns: string[]): void {
	for (const c of columns)
		if (!table.columns.has(c))
			throw new SchemaMiss(
				new ApiError(
					400,
					'PGRST204',
					`Could not find the '${c}' column of '${table.name}' in the schema cache`
				)
			);
}

export interface WriteOptions extends ReadOptions {
	/** Whether rows are returned in the body (representation) or just counted (minimal). */
	returning: 'rows' | 'keys' | 'none';
}

function finish(b: Builder, table: Table, o: WriteOptions, cte: string): BuiltQuery {
	if (o.returning === 'none') {
		const text = `${cte}select ${o.count ? `pg_catalog.count(*)` : 'null::int8'} as total, pg_catalog.count(*) as page, null::text as body from pgrst_source`;
		return { text, values: b.params };
	}
	if (o.returning === 'keys') {
		const keys = table.primaryKey.length ? table.primaryKey : [];
		b.q.select = keys.map((k) => ({ kind: 'field', field: { name: k, json: [] } }));
	}
	return buildRead(
		b,
		table,
		{ ...o, count: o.count ? 'exact' : undefined, maxRows: undefined },
		{ sql: 'pgrst_source', prefix: cte, applyRootFilters: false }
	);
}

/** INSERT (and upsert) of `payload` into `table`. */
export function buildInsert(
	b: Builder,
	table: Table,
	payload: WritePayload,
	o: WriteOptions & {
		missingDefault: boolean;
		resolution?: 'merge-duplicates' | 'ignore-duplicates';
		onConflict?: string[];
	}
): BuiltQuery {
	payloadColumns(table, payload.columns);
	const cols = payload.columns.map(qi).join(', ');
	const target = qt(table);
	let insert: string;
	if (payload.columns.length === 0) {
		insert = `insert into ${target} select from pg_catalog.json_array_elements(${b.p(payload.json)}::json)`;
	} else if (o.missingDefault) {
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
	if (o.resolution) {
		const conflict = o.onConflict ?? table.primaryKey;
		if (!conflict.length)
			throw new ApiError(
				400,
				'PGRST127',
				'Feature not implemented',
				'Upsert needs a primary key or an on_conflict parameter'
			);
		payloadColumns(table, conflict);
		const updates = payload.columns.map((c) => `${qi(c)} = excluded.${qi(c)}`);
		insert +=
			o.resolution === 'ignore-duplicates' || updates.length === 0
				? ` on conflict (${conflict.map(qi).join(', ')}) do nothing`
				: ` on conflict (${conflict.map(qi).join(', ')}) do update set ${updates.join(', ')}`;
	}
	insert += o.returning === 'none' ? ' returning 1' : ` returning ${target}.*`;
	return finish(b, table, o, `with pgrst_source as (${insert}) `);
}

/** A JSON value as a text parameter for a typed cast (VALUES rows of `missing=default`). */
function valueParam(v: unknown, col: Column): unknown {
	if (v === null || v === undefined) return null;
	if (typeof v === 'object') {
		if (Array.isArray(v) && col.typeName.startsWith('_')) return v;
		return JSON.stringify(v);
	}
	return String(v);
}

/** Conditions of the root filters, also through `limit`/`order` (PATCH/DELETE ... limit). */
function writeWhere(b: Builder, table: Table, alias: string): string {
	const opts = b.level([]);
	if (opts.limit !== undefined || opts.offset !== undefined) {
		if (table.kind !== 'table') throw unsupportedLimit();
		const x = b.alias();
		const inner = whereOf(b, table, x, opts);
		const lvl: LevelSql = { cols: [], joins: [], countJoins: [], where: [], opts, embeds: new Map() };
		const sub =
			`select ${x}.ctid from ${qt(table)} ${x}${inner.length ? ` where ${inner.join(' and ')}` : ''}` +
			`${orderSql(b, table, x, lvl)}${limitSql(b, opts)}`;
		return ` where ${alias}.ctid = any(array(${sub}))`;
	}
	const conds = whereOf(b, table, alias, opts);
	return conds.length ? ` where ${conds.join(' and ')}` : '';
}

function unsupportedLimit(): ApiError {
	return new ApiError(400, 'PGRST127', 'Feature not implemented', 'order/limit on writes needs a table');
}

/** UPDATE of `table` with the object `payload`, on rows matching the root filters. */
export function buildUpdate(b: Builder, table: Table, payload: WritePayload, o: WriteOptions): BuiltQuery {
	payloadColumns(table, payload.columns);
	const a = b.alias();
	const target = qt(table);
	const sets = payload.columns.map((c) => `${qi(c)} = _b.${qi(c)}`).join(', ');
	const row = `(${b.p(payload.json)}::json)->0`;
	const update =
		`update ${target} ${a} set ${sets} from pg_catalog.json_populate_record(null::${target}, ${row}) _b` +
		`${writeWhere(b, table, a)} returning ${o.returning === 'none' ? '1' : `${a}.*`}`;
	return finish(b, table, o, `with pgrst_source as (${update}) `);
}

/** DELETE from `table` of rows matching the root filters. */
export function buildDelete(b: Builder, table: Table, o: WriteOptions): BuiltQuery {
	const a = b.alias();
	const del = `delete from ${qt(table)} ${a}${writeWhere(b, table, a)} returning ${o.returning === 'none' ? '1' : `${a}.*`}`;
	return finish(b, table, o, `with pgrst_source as (${del}) `);
}

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
		throw new ApiError(
			300,
			'PGRST203',
			`Could not choose the best candidate function between: ${named.map(signature).join(', ')}`,
			null,
			'Try renaming the parameters or the function itself in the database so function overloading can be resolved'
		);
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

/** A call of `fn` with `args` (JSON object) or the whole body as its single JSON argument. */
export function buildCall(
	b: Builder,
	fn: PgFunction,
	args: { wholeBody: true; json: string } | { wholeBody: false; values: Record<string, unknown> }
): { from: string; call: string } {
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

/** The statement of an RPC call, shaped like a read. */
export function buildRpc(
	b: Builder,
	fn: PgFunction,
	callArgs: Parameters<typeof buildCall>[2],
	o: ReadOptions
): BuiltQuery {
	const { from, call } = buildCall(b, fn, callArgs);
	const fromClause = (alias: string) =>
		from ? `${from} cross join lateral ${call} ${alias}` : `${call} ${alias}`;
	if (fn.returns === 'composite') {
		const f = b.alias();
		const prefix = `with pgrst_source as materialized (select ${f}.* from ${fromClause(f)}) `;
		return buildRead(b, functionResultTable(b.snap, fn), o, { sql: 'pgrst_source', prefix });
	}
	const root = b.q.levels.get('') ?? emptyLevel();
	const shaped =
		root.filters.length || root.logic.length || root.order || b.q.select.some((s) => s.kind !== 'star');
	if (shaped)
		throw new ApiError(
			400,
			'PGRST127',
			'Feature not implemented',
			'select, filters and order apply to functions returning rows (composite types), not scalars'
		);
	b.checkLevels();
	if (fn.returns === 'void' || !fn.setOf) {
		// A void result is still read (as text) so the call cannot be planned away.
		const value = fn.returns === 'void' ? `(${call})::text` : `pg_catalog.to_json(${call})::text`;
		const text = `select null::int8 as total, 1::int8 as page, ${value} as body${from ? ` from ${from}` : ''}`;
		return { text, values: b.params };
	}
	const f = b.alias();
	const r = b.alias();
	const limit = limitSql(b, root, o.maxRows);
	const total = o.count === 'exact' ? `(select pg_catalog.count(*) from pgrst_source)` : 'null::int8';
	const text =
		`with pgrst_source as materialized (select ${f}.v from ${fromClause(`${f}(v)`)}) ` +
		`select ${total} as total, pg_catalog.count(${r}) as page, ` +
		(o.single
			? `(pg_catalog.json_agg(${r}.v)->0)::text`
			: `coalesce(pg_catalog.json_agg(${r}.v), '[]'::json)::text`) +
		` as body from (select v from pgrst_source${limit}) ${r}`;
	return { text, values: b.params };
}
