/**
 * Read planning: resolves a parsed `select` tree, its filters, logic trees and orders against
 * the schema cache into a tree of ReadNodes, one per embedded resource, and checks that every
 * `embed.param` of the query string names an embed of the tree. Lookups run in the order the
 * request states them, so the first error reported is the first a reader would find.
 */
import { errors } from './errors.ts';
import { columnOf } from './lookup.ts';
import type { Filter, LevelOptions, LogicTree, OrderTerm, ParsedQuery, SelectItem } from './parser.ts';
import type {
	ColumnFilter,
	Embed,
	LogicPlan,
	OrderBy,
	Output,
	ReadNode,
	ReadPlan,
	ReadShape
} from './plan.ts';
import { resolveRelationship } from './relationships.ts';
import type { SchemaSnapshot, Table } from './schema-cache.ts';

const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\[\])?$/;
const emptyLevel = (): LevelOptions => ({ filters: [], logic: [] });

/** The request's query string being planned, with the levels (embed paths) planning has used. */
export class QueryPlanner {
	readonly snap: SchemaSnapshot;
	readonly q: ParsedQuery;
	readonly #visited = new Set<string>();
	constructor(snap: SchemaSnapshot, q: ParsedQuery) {
		this.snap = snap;
		this.q = q;
	}
	/** The options of the level at `path` (embed labels), marked as used. */
	level(path: string[]): LevelOptions {
		const key = path.join('.');
		this.#visited.add(key);
		return this.q.levels.get(key) ?? emptyLevel();
	}
	/** Fails on `embedded.col=...` parameters naming no embedded resource (PGRST108). */
	checkLevels(): void {
		for (const [key, opts] of this.q.levels) {
			if (this.#visited.has(key)) continue;
			const used = opts.filters.length || opts.logic.length || opts.order || opts.limit !== undefined;
			if (used || opts.offset !== undefined) throw errors.notEmbedded(key);
		}
	}
}

function planFilter(table: Table, f: Filter): ColumnFilter {
	return { ...f, column: columnOf(table, f.field.name) };
}

function planLogic(table: Table, t: LogicTree): LogicPlan {
	const children = t.children.map((c) => (c.kind === 'logic' ? planLogic(table, c) : planFilter(table, c)));
	return { kind: 'logic', op: t.op, negate: t.negate, children };
}

/** A level's filters and logic trees on the columns of `table` (no embeds). */
export function planWhere(table: Table, opts: LevelOptions): (ColumnFilter | LogicPlan)[] {
	return [...opts.filters.map((f) => planFilter(table, f)), ...opts.logic.map((t) => planLogic(table, t))];
}

/** Order terms on `table`'s columns or, for a related order, on a to-one embed's. */
export function planOrder(
	table: Table,
	terms: OrderTerm[] | undefined,
	embeds: Map<string, Embed>
): OrderBy[] {
	return (terms ?? []).map((t) => {
		const order: OrderBy = { field: t.field, direction: t.direction, nulls: t.nulls };
		if (t.relation) {
			const e = embeds.get(t.relation);
			if (!e) throw errors.notEmbedded(t.relation);
			if (!e.rel.toOne) throw errors.relatedOrderNotToOne(table.name, t.relation);
			columnOf(e.rel.target, t.field.name);
			order.via = e;
		} else columnOf(table, t.field.name);
		return order;
	});
}

interface PlannedLevel {
	node: ReadNode;
	opts: LevelOptions;
	embeds: Map<string, Embed>;
}

/**
 * The node of one level, without its order and page (which the caller plans after the level).
 * `applyFilters` is false for the root of a write's representation, whose rows the write chose.
 */
function planLevel(
	p: QueryPlanner,
	table: Table,
	items: SelectItem[],
	path: string[],
	applyFilters: boolean
): PlannedLevel {
	const opts = p.level(path);
	const node: ReadNode = { table, select: [], where: [], order: [] };
	const embeds = new Map<string, Embed>();
	for (const item of items) {
		let out: Output;
		if (item.kind === 'star') out = item;
		else if (item.kind === 'field') {
			columnOf(table, item.field.name);
			if (item.cast && !TYPE_NAME.test(item.cast)) throw errors.invalidCast(item.cast);
			const last = item.field.json[item.field.json.length - 1];
			out = {
				kind: 'field',
				field: item.field,
				name: item.alias ?? (last ? last.key : item.field.name),
				cast: item.cast
			};
		} else {
			const rel = resolveRelationship(p.snap, table, item.name, item.hint);
			const label = item.alias ?? item.name;
			const child = planLevel(p, rel.target, item.children, [...path, label], true);
			child.node.order = planOrder(rel.target, child.opts.order, child.embeds);
			child.node.limit = child.opts.limit;
			child.node.offset = child.opts.offset;
			const embed: Embed = { label, rel, node: child.node };
			embeds.set(label, embed);
			if (item.inner) node.where.push({ kind: 'presence', embed, isNull: false });
			out = { kind: 'embed', embed };
		}
		node.select.push(out);
	}
	if (!applyFilters) return { node, opts, embeds };
	for (const f of opts.filters) {
		const e = embeds.get(f.field.name);
		if (!table.columns.has(f.field.name) && e && f.operation.op === 'is' && f.field.json.length === 0) {
			const v = (f.operation as { value: string }).value;
			if (v !== 'null' && v !== 'not_null') throw errors.embedIsFilter(v);
			node.where.push({ kind: 'presence', embed: e, isNull: (v === 'null') !== f.negate });
		} else node.where.push(planFilter(table, f));
	}
	for (const t of opts.logic) node.where.push(planLogic(table, t));
	return { node, opts, embeds };
}

/** Where a read's rows come from, beyond `table` itself. */
export interface ReadSource {
	/** False when the rows are a write's: its filters already chose them and no page applies. */
	applyRootFilters?: boolean;
	/** The select list, when not the request's (a write's `return=headers-only` reads its keys). */
	select?: SelectItem[];
	maxRows?: number;
	/** The `Range` header, used when the query string sets no root limit or offset. */
	range?: { offset: number; limit?: number };
}

/** The read tree of `table` for the request's query string. */
export function planRead(p: QueryPlanner, table: Table, shape: ReadShape, source: ReadSource = {}): ReadPlan {
	const applyFilters = source.applyRootFilters ?? true;
	const { node, opts, embeds } = planLevel(p, table, source.select ?? p.q.select, [], applyFilters);
	p.checkLevels();
	node.order = planOrder(table, opts.order, embeds);
	if (applyFilters) Object.assign(node, rootPage(opts, source.maxRows, source.range));
	return { ...shape, root: node };
}

/** The root's limit and offset: the query string's, else the `Range` header's, capped at `maxRows`. */
export function rootPage(
	opts: LevelOptions,
	maxRows: number | undefined,
	range: ReadSource['range']
): { limit?: number; offset?: number } {
	let { limit, offset } = opts;
	if (range && limit === undefined && offset === undefined) ({ offset, limit } = range);
	if (maxRows !== undefined && (limit === undefined || limit > maxRows)) limit = maxRows;
	return { limit, offset };
}
