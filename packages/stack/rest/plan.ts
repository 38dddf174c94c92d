/**
 * The plans a request becomes, between parsing and SQL: every name resolved against the schema
 * cache, nothing rendered yet. A read is a tree of ReadNodes whose children are embeds (and the
 * place where aggregates or computed fields would join it); a write is a MutatePlan with the
 * read of its representation; a function call is a CallPlan with the read of its rows. The
 * planners (plan-read.ts, plan-write.ts, plan-call.ts) build them; render-*.ts turn them into SQL.
 */
import type { FieldRef, Filter } from './parser.ts';
import type { Column, ForeignKey, PgFunction, Table } from './schema-cache.ts';

/** How an embedded resource is reached from its parent (found by relationships.ts). */
export interface Relationship {
	target: Table;
	toOne: boolean;
	/** Names a `!hint` may use for it; the first is the one suggested when ambiguous. */
	keys: string[];
	/** Child rows match on columns, or through a junction table (many-to-many). */
	via:
		{ child: string[]; parent: string[] } | { junction: Table; toParent: ForeignKey; toTarget: ForeignKey };
	describe: { cardinality: string; relationship: string };
}

/** A horizontal filter on a column the schema cache has. */
export interface ColumnFilter extends Filter {
	column: Column;
}

/** An `and`/`or` tree of column filters. */
export interface LogicPlan {
	kind: 'logic';
	op: 'and' | 'or';
	negate: boolean;
	children: (ColumnFilter | LogicPlan)[];
}

/** Whether an embed found a row: `!inner`, or `embed=is.null` / `not.is.null` on an embed. */
export interface EmbedPresence {
	kind: 'presence';
	embed: Embed;
	isNull: boolean;
}

export type Condition = ColumnFilter | LogicPlan | EmbedPresence;

/** An item of a node's select list. */
export type Output =
	| { kind: 'star' }
	| { kind: 'field'; field: FieldRef; name: string; cast?: string }
	| { kind: 'embed'; embed: Embed };

/** An embedded resource: a child node of the read tree and how it joins its parent. */
export interface Embed {
	label: string;
	rel: Relationship;
	node: ReadNode;
}

/** An `order` term; `via` is the to-one embed a related order reads the column from. */
export interface OrderBy {
	field: FieldRef;
	direction?: 'asc' | 'desc';
	nulls?: 'first' | 'last';
	via?: Embed;
}

/** One level of a read: a relation with its outputs, conditions, order and page. */
export interface ReadNode {
	table: Table;
	select: Output[];
	where: Condition[];
	order: OrderBy[];
	limit?: number;
	offset?: number;
}

/** How a read's single row of `total`, `page` and `body` is computed. */
export interface ReadShape {
	/** `exact`: count in the same statement; `planned`: an `explain` beside it. */
	count?: 'exact' | 'planned' | 'estimated';
	/** Body as a single object (the first row) instead of an array. */
	single: boolean;
	stripNulls: boolean;
}

/** A read tree and the shape of its answer. */
export interface ReadPlan extends ReadShape {
	root: ReadNode;
}

/** The body of a write: rows as objects, and the columns they set. */
export interface WritePayload {
	rows: Record<string, unknown>[];
	columns: string[];
	/** The raw JSON text of `rows` (an array), passed as one parameter. */
	json: string;
}

/** Rows a PATCH or DELETE touches: the root filters, and an order and page when limited. */
export interface WriteTarget {
	where: (ColumnFilter | LogicPlan)[];
	/** Present when `limit`/`offset` narrow the rows (through their ctid). */
	page?: { order: OrderBy[]; limit?: number; offset?: number };
}

export type MutatePlan = {
	table: Table;
	returning: 'rows' | 'keys' | 'none';
	/** Count the rows written into `total` (`Prefer: count`). */
	count: boolean;
	/** The representation (returning rows or keys), read from the written rows. */
	read?: ReadPlan;
} & (
	| {
			kind: 'insert';
			payload: WritePayload;
			missingDefault: boolean;
			/** Upsert: the conflict columns and whether duplicates merge or are ignored. */
			upsert?: { columns: string[]; merge: boolean };
	  }
	| { kind: 'update'; payload: WritePayload; target: WriteTarget }
	| { kind: 'delete'; target: WriteTarget }
);

/** A function's arguments: named values, or the whole body as its single json argument. */
export type CallArgs =
	{ wholeBody: true; json: string } | { wholeBody: false; values: Record<string, unknown> };

/** A function call; rows of a composite result are read like a table, a set of scalars paged. */
export interface CallPlan extends ReadShape {
	fn: PgFunction;
	args: CallArgs;
	/** The read of a composite result. */
	read?: ReadPlan;
	/** The page of a set of scalars. */
	limit?: number;
	offset?: number;
}
