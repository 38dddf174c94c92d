/**
 * Relationships for embedding: finds, from the schema cache's foreign keys, how a parent
 * relation reaches the resource an embed names (a table, a foreign key or a column name, with an
 * optional `!hint`): many-to-one, one-to-many, one-to-one, or many-to-many through a junction
 * whose primary key covers both foreign keys. No match, or more than one, fails as PostgREST does.
 */
import { errors } from './errors.ts';
import { SchemaMiss } from './lookup.ts';
import type { Relationship } from './plan.ts';
import { findTable, type SchemaSnapshot, type Table } from './schema-cache.ts';

function isUnique(table: Table, cols: string[]): boolean {
	return table.uniques.some((u) => u.length === cols.length && u.every((c) => cols.includes(c)));
}

/** Finds the relationship `name` (with `!hint`) from `parent`. */
export function resolveRelationship(
	snap: SchemaSnapshot,
	parent: Table,
	name: string,
	hint?: string
): Relationship {
	const found: Relationship[] = [];
	const tablesInSchema = [...snap.tables.values()].filter((t) => t.schema === parent.schema);
	// Many-to-one (or one-to-one) through the parent's own foreign keys.
	for (const fk of parent.foreignKeys) {
		const target = findTable(snap, parent.schema, fk.refTable);
		if (!target) continue;
		const named =
			fk.refTable === name || fk.name === name || (fk.columns.length === 1 && fk.columns[0] === name);
		if (!named) continue;
		found.push({
			target,
			toOne: true,
			keys: [fk.name, ...fk.columns],
			via: { child: fk.refColumns, parent: fk.columns },
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
				via: { child: fk.columns, parent: fk.refColumns },
				describe: {
					cardinality: one ? 'one-to-one' : 'one-to-many',
					relationship: `${fk.name} using ${t.name}(${fk.columns.join(', ')}) and ${parent.name}(${fk.refColumns.join(', ')})`
				}
			});
		}
	}
	// Many-to-many through a junction whose primary key covers both foreign keys.
	const target = findTable(snap, parent.schema, name);
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
						via: { junction: j, toParent: f1, toTarget: f2 },
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
	if (matches.length === 0) throw new SchemaMiss(errors.noRelationship(parent, name, hint));
	throw errors.ambiguousRelationship(
		parent.name,
		name,
		matches.map((m) => ({ ...m.describe, embedding: `${parent.name} with ${m.target.name}` })),
		matches.map((m) => m.keys[0])
	);
}
