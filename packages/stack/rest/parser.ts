/**
 * Parser of PostgREST's URL grammar: `select` trees (aliases, casts, JSON paths, embeds with
 * hints and `!inner`), horizontal filters with operators, quantifiers and `not.`, `or`/`and`
 * logic trees, `order`, `limit`/`offset` (also on embedded resources). It only checks syntax
 * (the shared lexical layer is syntax.ts); names are resolved against the schema cache by the planner.
 */
import { errors } from './errors.ts';
import { Cursor, parseField, splitTopLevel, unquote, type FieldRef } from './syntax.ts';

export type { FieldRef, JsonStep } from './syntax.ts';

export type SelectItem =
	| { kind: 'star' }
	| { kind: 'field'; field: FieldRef; alias?: string; cast?: string }
	| {
			kind: 'embed';
			name: string;
			alias?: string;
			hint?: string;
			inner: boolean;
			children: SelectItem[];
	  };

export const OPERATORS: Record<string, string> = {
	eq: '=',
	neq: '<>',
	gt: '>',
	gte: '>=',
	lt: '<',
	lte: '<=',
	like: 'like',
	ilike: 'ilike',
	match: '~',
	imatch: '~*',
	cs: '@>',
	cd: '<@',
	ov: '&&',
	sl: '<<',
	sr: '>>',
	nxr: '&<',
	nxl: '&>',
	adj: '-|-',
	isdistinct: 'is distinct from'
};
const QUANTIFIABLE = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch']);
const FTS = new Set(['fts', 'plfts', 'phfts', 'wfts']);

export type Operation =
	| { op: string; value: string; quantifier?: 'any' | 'all' }
	| { op: 'in'; values: string[] }
	| { op: 'is'; value: 'null' | 'not_null' | 'true' | 'false' | 'unknown' }
	| { op: 'fts' | 'plfts' | 'phfts' | 'wfts'; value: string; config?: string };

export interface Filter {
	kind: 'filter';
	field: FieldRef;
	negate: boolean;
	operation: Operation;
}

export interface LogicTree {
	kind: 'logic';
	op: 'and' | 'or';
	negate: boolean;
	children: (Filter | LogicTree)[];
}

export interface OrderTerm {
	/** Embedded to-one resource the column belongs to (`order=author(name)`), if any. */
	relation?: string;
	field: FieldRef;
	direction?: 'asc' | 'desc';
	nulls?: 'first' | 'last';
}

/** Query-string settings that apply to one level (root or an embedded resource path). */
export interface LevelOptions {
	filters: Filter[];
	logic: LogicTree[];
	order?: OrderTerm[];
	limit?: number;
	offset?: number;
}

export interface ParsedQuery {
	select: SelectItem[];
	/** Keyed by embed path joined with '.', '' for the root. */
	levels: Map<string, LevelOptions>;
	columns?: string[];
	onConflict?: string[];
	/** Query parameters left for RPC arguments (GET /rpc). */
	rpcArgs: Map<string, string>;
}

const RESERVED = new Set(['select', 'order', 'limit', 'offset', 'columns', 'on_conflict', 'or', 'and']);

function parseSelectItems(c: Cursor, nested: boolean): SelectItem[] {
	const items: SelectItem[] = [];
	for (;;) {
		if (c.done || (nested && c.peek() === ')')) {
			// An empty list (select=) is allowed at the root and means "no columns".
			if (items.length && c.s[c.i - 1] === ',') c.fail('expecting a field');
			break;
		}
		items.push(parseSelectItem(c));
		if (c.eat(',')) continue;
		if (c.done || (nested && c.peek() === ')')) break;
		c.fail('expecting "," or end of select');
	}
	return items;
}

function parseSelectItem(c: Cursor): SelectItem {
	if (c.eat('*')) return { kind: 'star' };
	if (c.startsWith('...')) throw errors.unsupported('Spread embedding (`...`)');
	let alias: string | undefined;
	const save = c.i;
	const first = c.name();
	if (c.peek() === ':' && c.peek(1) !== ':') {
		c.i++;
		alias = first;
	} else c.i = save;
	const start = c.i;
	const name = c.name();
	if (c.peek() === '!' || c.peek() === '(') {
		let hint: string | undefined;
		let inner = false;
		while (c.eat('!')) {
			const h = c.name();
			if (h === 'inner') inner = true;
			else if (h === 'left') inner = false;
			else if (hint === undefined) hint = h;
			else c.fail('expecting one hint');
		}
		c.expect('(');
		if (c.peek() === ')' && c.s[start - 1] !== ':' && /^(count|sum|avg|max|min)$/.test(name))
			throw errors.aggregatesNotAllowed();
		const children = parseSelectItems(c, true);
		c.expect(')');
		return { kind: 'embed', name, alias, hint, inner, children };
	}
	c.i = start;
	const field = parseField(c);
	let cast: string | undefined;
	if (c.eat('::')) {
		const m = /^[A-Za-z_][A-Za-z0-9_]*(\[\])?/.exec(c.s.slice(c.i));
		if (!m) c.fail('expecting a type name');
		cast = m[0];
		c.i += m[0].length;
	}
	if (c.peek() === '.' && /^\.(count|sum|avg|max|min)\(/.test(c.s.slice(c.i)))
		throw errors.aggregatesNotAllowed();
	return { kind: 'field', field, alias, cast };
}

/** Parses a `select` parameter. */
export function parseSelect(value: string): SelectItem[] {
	const c = new Cursor(value, 'select parameter');
	const items = parseSelectItems(c, false);
	if (!c.done) c.fail('expecting end of select');
	return items;
}

/** Parses `op.value` (with `not.` prefix) as a filter on `field`. */
export function parseOperation(text: string, field: FieldRef, inLogic = false): Filter {
	const what = `filter (${text})`;
	let rest = text;
	let negate = false;
	if (rest.startsWith('not.')) {
		negate = true;
		rest = rest.slice(4);
	}
	const m = /^([a-z]+)(?:\(([^)]*)\))?\./.exec(rest);
	if (!m) throw errors.parse(what, 'expecting an operator followed by "."');
	const [head, op, modifier] = m;
	let value = rest.slice(head.length);
	if (inLogic) value = unquote(value);
	let operation: Operation;
	if (op === 'in') {
		if (modifier !== undefined) throw errors.parse(what);
		if (!value.startsWith('(') || !value.endsWith(')')) throw errors.parse(what, 'expecting "(" values ")"');
		const inner = value.slice(1, -1);
		const values = inner === '' ? [] : splitTopLevel(inner, 'filter').map((v) => unquote(v));
		operation = { op: 'in', values };
	} else if (op === 'is') {
		if (modifier !== undefined) throw errors.parse(what);
		const v = value.toLowerCase();
		if (!['null', 'not_null', 'true', 'false', 'unknown'].includes(v))
			throw errors.parse(what, 'expecting null, not_null, true, false or unknown');
		operation = { op: 'is', value: v as 'null' };
	} else if (FTS.has(op)) {
		if (modifier !== undefined && !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(modifier)) throw errors.parse(what);
		operation = { op: op as 'fts', value, config: modifier };
	} else if (op in OPERATORS) {
		if (modifier !== undefined) {
			if ((modifier !== 'any' && modifier !== 'all') || !QUANTIFIABLE.has(op)) throw errors.parse(what);
			if (!value.startsWith('{') || !value.endsWith('}'))
				throw errors.parse(what, 'expecting "{" values "}"');
			operation = { op, value, quantifier: modifier };
		} else operation = { op, value };
	} else throw errors.parse(what, `unknown operator "${op}"`);
	return { kind: 'filter', field, negate, operation };
}

/** Parses a logic tree value `(a.eq.1,or(b.gt.2,c.is.null))`. */
export function parseLogic(op: 'and' | 'or', negate: boolean, value: string): LogicTree {
	const what = `logic tree (${value})`;
	if (!value.startsWith('(') || !value.endsWith(')')) throw errors.parse(what, 'expecting "(" ... ")"');
	const inner = value.slice(1, -1);
	if (inner.trim() === '') throw errors.parse(what, 'expecting a filter');
	const children = splitTopLevel(inner, 'logic tree').map((part): Filter | LogicTree => {
		let p = part;
		let neg = false;
		if (p.startsWith('not.')) {
			neg = true;
			p = p.slice(4);
		}
		const lm = /^(and|or)\(/.exec(p);
		if (lm) return parseLogic(lm[1] as 'and' | 'or', neg, p.slice(lm[1].length));
		const c = new Cursor(p, 'logic tree');
		const field = parseField(c);
		if (!c.eat('.')) throw errors.parse(what, `expecting "." after a field in (${part})`);
		const f = parseOperation((neg ? 'not.' : '') + p.slice(c.i), field, true);
		return f;
	});
	return { kind: 'logic', op, negate, children };
}

/** Parses an `order` parameter. */
export function parseOrder(value: string): OrderTerm[] {
	return splitTopLevel(value, 'order').map((term) => {
		const c = new Cursor(term, 'order');
		const t: OrderTerm = { field: { name: '', json: [] } };
		const save = c.i;
		const name = c.name();
		if (c.peek() === '(') {
			c.i++;
			t.relation = name;
			t.field = parseField(c);
			c.expect(')');
		} else {
			c.i = save;
			t.field = parseField(c);
		}
		while (c.eat('.')) {
			const word = c.name();
			if (word === 'asc' || word === 'desc') t.direction = word;
			else if (word === 'nullsfirst') t.nulls = 'first';
			else if (word === 'nullslast') t.nulls = 'last';
			else c.fail('expecting asc, desc, nullsfirst or nullslast');
		}
		if (!c.done) c.fail('expecting "." or ","');
		return t;
	});
}

function parseCount(value: string, what: string): number {
	if (!/^\d{1,15}$/.test(value)) throw errors.parse(what, 'expecting a non-negative integer');
	return Number(value);
}

/** Parses the query string of a table or RPC request; `rpcArgNames` marks GET RPC arguments. */
export function parseQuery(params: URLSearchParams, rpcArgNames?: Set<string>): ParsedQuery {
	const q: ParsedQuery = {
		select: [{ kind: 'star' }],
		levels: new Map(),
		rpcArgs: new Map()
	};
	const level = (path: string): LevelOptions => {
		let l = q.levels.get(path);
		if (!l) q.levels.set(path, (l = { filters: [], logic: [] }));
		return l;
	};
	level('');
	for (const [rawKey, value] of params) {
		if (rawKey === 'select') {
			q.select = parseSelect(value);
			continue;
		}
		if (rawKey === 'columns') {
			q.columns = splitTopLevel(value, 'columns').map((s) => unquote(s.trim()));
			if (q.columns.some((c) => c === '')) throw errors.parse(`columns (${value})`);
			continue;
		}
		if (rawKey === 'on_conflict') {
			q.onConflict = splitTopLevel(value, 'on_conflict').map((s) => unquote(s.trim()));
			continue;
		}
		if (rpcArgNames?.has(rawKey)) {
			q.rpcArgs.set(rawKey, value);
			continue;
		}
		// Split `a.b.order`, `a.or`, `a.not.and`, `a.b.col` into path and last part.
		const keyCursor = new Cursor(rawKey, 'parameter');
		const parts: string[] = [];
		let fieldPart: FieldRef | null = null;
		for (;;) {
			const save = keyCursor.i;
			const n = keyCursor.name();
			if (keyCursor.startsWith('->')) {
				keyCursor.i = save;
				fieldPart = parseField(keyCursor);
				if (!keyCursor.done) keyCursor.fail('expecting end of parameter');
				break;
			}
			parts.push(n);
			if (keyCursor.done) break;
			keyCursor.expect('.');
		}
		const last = fieldPart ? null : parts.pop()!;
		let negate = false;
		if (last === 'and' || last === 'or') {
			if (parts[parts.length - 1] === 'not') {
				parts.pop();
				negate = true;
			}
		}
		const path = parts.join('.');
		if (last === 'order') level(path).order = parseOrder(value);
		else if (last === 'limit') level(path).limit = parseCount(value, `limit (${value})`);
		else if (last === 'offset') level(path).offset = parseCount(value, `offset (${value})`);
		else if (last === 'and' || last === 'or') level(path).logic.push(parseLogic(last, negate, value));
		else {
			if (last !== null && RESERVED.has(last)) throw errors.parse(`parameter (${rawKey})`);
			const field = fieldPart ?? { name: last!, json: [] };
			const filter = parseOperation(value, field);
			level(path).filters.push(filter);
		}
	}
	return q;
}
