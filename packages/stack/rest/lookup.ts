/**
 * Planning's lookups in the schema cache: the table a path names, a column of a table, and the
 * near-miss suggestions PostgREST's hints carry. A failed lookup is a SchemaMiss, which the
 * service answers only after reloading the cache once and planning again (the object may have
 * been created a moment ago).
 */
import { errors, type ApiError } from './errors.ts';
import { findTable, type Column, type SchemaSnapshot, type Table } from './schema-cache.ts';

/** A lookup that failed against the schema cache; `error` is the answer if a reload does not help. */
export class SchemaMiss extends Error {
	override name = 'SchemaMiss';
	readonly error: ApiError;
	constructor(error: ApiError) {
		super(error.message);
		this.error = error;
	}
}

/** The table named by the request path, or a PGRST205 miss. */
export function tableOf(snap: SchemaSnapshot, schema: string, name: string): Table {
	const t = findTable(snap, schema, name);
	if (t) return t;
	const others = [...snap.tables.values()].filter((x) => x.schema === schema).map((x) => x.name);
	throw new SchemaMiss(errors.noTable(schema, name, closest(name, others)));
}

/** The column `name` of `table`, or a 42703 miss hinting at a differently cased one. */
export function columnOf(table: Table, name: string): Column {
	const col = table.columns.get(name);
	if (col) return col;
	const close = [...table.columns.keys()].find((c) => c.toLowerCase() === name.toLowerCase());
	throw new SchemaMiss(errors.noColumn(table.name, name, close));
}

/** Fails with PGRST204 unless `table` has every column of `columns` (a write's payload keys). */
export function payloadColumns(table: Table, columns: string[]): void {
	for (const c of columns)
		if (!table.columns.has(c)) throw new SchemaMiss(errors.noPayloadColumn(table.name, c));
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
