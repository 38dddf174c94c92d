/**
 * The REST API's schema cache: tables, views, columns, keys, foreign keys and functions of the
 * exposed schemas, read from pg_catalog. Identifiers in requests are validated against it before
 * any SQL is built. It reloads on `NOTIFY pgrst, 'reload schema'` (sent by the platform layer's
 * DDL event trigger and by the migrations runner) and, rate-limited, when a lookup misses.
 */
import pg from 'pg';

export interface Column {
	name: string;
	/** Schema-qualified, quoted type name usable in casts (`"pg_catalog"."int4"`). */
	type: string;
	/** Bare type name (`int4`, `_text`, `tsvector`...). */
	typeName: string;
	nullable: boolean;
	hasDefault: boolean;
	generated: boolean;
}

export interface ForeignKey {
	name: string;
	/** Referencing table and its columns. */
	table: string;
	columns: string[];
	/** Referenced table and its columns. */
	refTable: string;
	refColumns: string[];
}

export interface Table {
	schema: string;
	name: string;
	kind: 'table' | 'view';
	columns: Map<string, Column>;
	/** Column names in table order. */
	columnOrder: string[];
	primaryKey: string[];
	/** Sets of columns that are unique (primary key included). */
	uniques: string[][];
	/** Foreign keys of this table (it references others). */
	foreignKeys: ForeignKey[];
}

export interface FunctionArg {
	name: string;
	type: string;
	typeName: string;
	hasDefault: boolean;
}

export interface PgFunction {
	schema: string;
	name: string;
	args: FunctionArg[];
	volatility: 'i' | 's' | 'v';
	setOf: boolean;
	/** How the result is shaped: rows of a composite/table type, a scalar, or nothing. */
	returns: 'composite' | 'scalar' | 'void';
	/** Result columns when `returns` is composite. */
	columns: Map<string, Column>;
	/** Bare name of the return type. */
	returnTypeName: string;
}

export interface SchemaSnapshot {
	tables: Map<string, Table>;
	functions: Map<string, PgFunction[]>;
	/** Role name → settings to apply with `set local` (from `alter role ... set`). */
	roleSettings: Map<string, [string, string][]>;
	/** Roles that exist (to report a JWT role claim naming no role). */
	roles: Set<string>;
	/** Bumped on every load so cached statement names never outlive a schema change. */
	generation: number;
}

const key = (schema: string, name: string) => `${schema}.${name}`;
const qtype = (ns: string, name: string) => `"${ns.replaceAll('"', '""')}"."${name.replaceAll('"', '""')}"`;

const RELATIONS_SQL = `
select c.oid::int8 as oid, n.nspname as schema, c.relname as name, c.relkind as kind
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'v', 'm', 'f', 'p') and n.nspname = any($1)`;

const FUNCTIONS_SQL = `
select p.oid::int8 as oid, n.nspname as schema, p.proname as name, p.provolatile as volatility,
  p.proretset as setof, rt.typtype as rettyptype, rt.typname as rettypname, rt.typrelid::int8 as retrelid,
  p.pronargs as nargs, p.pronargdefaults as ndefaults,
  coalesce(p.proargnames, '{}') as argnames,
  coalesce(p.proargmodes::text[], '{}') as argmodes,
  coalesce(p.proallargtypes::int8[], p.proargtypes::int8[]) as argtypes,
  p.proargtypes::int8[] as inargtypes
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_type rt on rt.oid = p.prorettype
where n.nspname = any($1) and p.prokind = 'f'`;

const TYPES_SQL = `
select t.oid::int8 as oid, n.nspname as ns, t.typname as name
from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
where t.oid = any($1::oid[])`;

const COLUMNS_SQL = `
select a.attrelid::int8 as rel, a.attname as name, tn.nspname as tns, t.typname as tname,
  not a.attnotnull as nullable, (a.atthasdef or a.attidentity <> '') as hasdefault,
  a.attgenerated <> '' as generated
from pg_catalog.pg_attribute a
join pg_catalog.pg_type t on t.oid = a.atttypid
join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace
where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum`;

const CONSTRAINTS_SQL = `
select c.conname as name, c.contype as type, c.conrelid::int8 as rel, c.confrelid::int8 as frel,
  array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i)
        join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as cols,
  array(select a.attname::text from unnest(c.confkey) with ordinality k(n, i)
        join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as fcols
from pg_catalog.pg_constraint c
where c.contype in ('p', 'u', 'f') and c.conrelid = any($1::oid[])`;

const UNIQUE_INDEXES_SQL = `
select i.indrelid::int8 as rel,
  array(select a.attname::text from unnest(i.indkey) with ordinality k(n, o)
        join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n order by k.o) as cols
from pg_catalog.pg_index i
where i.indisunique and i.indpred is null and i.indexprs is null and i.indrelid = any($1::oid[])`;

const ROLES_SQL = `
select r.rolname as role,
  coalesce((select s.setconfig from pg_catalog.pg_db_role_setting s
            where s.setrole = r.oid and s.setdatabase = 0), '{}') as settings,
  coalesce((select s.setconfig from pg_catalog.pg_db_role_setting s
            join pg_catalog.pg_database d on d.oid = s.setdatabase
            where s.setrole = r.oid and d.datname = current_database()), '{}') as dbsettings
from pg_catalog.pg_roles r`;

const USER_SETTINGS_SQL = `select name from pg_catalog.pg_settings where context = 'user'`;

/** Reads a snapshot of the exposed schemas from pg_catalog. */
export async function introspect(
	client: pg.Pool | pg.Client,
	schemas: string[],
	generation: number
): Promise<SchemaSnapshot> {
	const [rels, fns, roles, userSettings] = await Promise.all([
		client.query(RELATIONS_SQL, [schemas]),
		client.query(FUNCTIONS_SQL, [schemas]),
		client.query(ROLES_SQL),
		client.query(USER_SETTINGS_SQL)
	]);
	const relOids = new Set<string>(rels.rows.map((r) => String(r.oid)));
	for (const f of fns.rows) if (f.rettyptype === 'c' && f.retrelid !== '0') relOids.add(String(f.retrelid));
	const typeOids = new Set<string>();
	for (const f of fns.rows) for (const t of f.argtypes as string[]) typeOids.add(String(t));
	const [cols, cons, idx, types] = await Promise.all([
		client.query(COLUMNS_SQL, [[...relOids]]),
		client.query(CONSTRAINTS_SQL, [[...relOids]]),
		client.query(UNIQUE_INDEXES_SQL, [[...relOids]]),
		client.query(TYPES_SQL, [[...typeOids]])
	]);

	const columnsByRel = new Map<string, { map: Map<string, Column>; order: string[] }>();
	for (const c of cols.rows) {
		let entry = columnsByRel.get(String(c.rel));
		if (!entry) columnsByRel.set(String(c.rel), (entry = { map: new Map(), order: [] }));
		entry.map.set(c.name, {
			name: c.name,
			type: qtype(c.tns, c.tname),
			typeName: c.tname,
			nullable: c.nullable,
			hasDefault: c.hasdefault,
			generated: c.generated
		});
		entry.order.push(c.name);
	}

	const tables = new Map<string, Table>();
	const byOid = new Map<string, Table>();
	for (const r of rels.rows) {
		const entry = columnsByRel.get(String(r.oid)) ?? { map: new Map(), order: [] };
		const table: Table = {
			schema: r.schema,
			name: r.name,
			kind: r.kind === 'r' || r.kind === 'p' || r.kind === 'f' ? 'table' : 'view',
			columns: entry.map,
			columnOrder: entry.order,
			primaryKey: [],
			uniques: [],
			foreignKeys: []
		};
		tables.set(key(r.schema, r.name), table);
		byOid.set(String(r.oid), table);
	}
	for (const c of cons.rows) {
		const table = byOid.get(String(c.rel));
		if (!table) continue;
		if (c.type === 'p') table.primaryKey = c.cols;
		if (c.type === 'p' || c.type === 'u') table.uniques.push(c.cols);
		if (c.type === 'f') {
			const ref = byOid.get(String(c.frel));
			// Embedding only links relations of the same schema, as PostgREST does.
			if (!ref || ref.schema !== table.schema) continue;
			table.foreignKeys.push({
				name: c.name,
				table: table.name,
				columns: c.cols,
				refTable: ref.name,
				refColumns: c.fcols
			});
		}
	}
	for (const i of idx.rows) byOid.get(String(i.rel))?.uniques.push(i.cols);

	const typeNames = new Map<string, { q: string; name: string }>();
	for (const t of types.rows) typeNames.set(String(t.oid), { q: qtype(t.ns, t.name), name: t.name });

	const functions = new Map<string, PgFunction[]>();
	for (const f of fns.rows) {
		const modes: string[] = f.argmodes.length ? f.argmodes : (f.argtypes as unknown[]).map(() => 'i');
		const names: string[] = f.argnames;
		const allTypes = (f.argtypes as unknown[]).map(String);
		// Variadic functions are not callable through named JSON args; skip them.
		if (modes.includes('v')) continue;
		const inputs: FunctionArg[] = [];
		const outputs = new Map<string, Column>();
		allTypes.forEach((t, i) => {
			const mode = modes[i] ?? 'i';
			const type = typeNames.get(t) ?? { q: '"pg_catalog"."text"', name: 'text' };
			if (mode === 'i' || mode === 'b')
				inputs.push({ name: names[i] ?? '', type: type.q, typeName: type.name, hasDefault: false });
			if (mode === 'o' || mode === 'b' || mode === 't')
				outputs.set(names[i] ?? `column${i + 1}`, {
					name: names[i] ?? `column${i + 1}`,
					type: type.q,
					typeName: type.name,
					nullable: true,
					hasDefault: false,
					generated: false
				});
		});
		for (let i = inputs.length - Number(f.ndefaults); i < inputs.length; i++) inputs[i].hasDefault = true;
		let returns: PgFunction['returns'] = 'scalar';
		let columns = new Map<string, Column>();
		if (f.rettypname === 'void') returns = 'void';
		else if (f.rettyptype === 'c') {
			returns = 'composite';
			columns = columnsByRel.get(String(f.retrelid))?.map ?? new Map();
		} else if (f.rettypname === 'record') {
			if (outputs.size === 0) continue; // needs a column definition list: not callable
			returns = 'composite';
			columns = outputs;
		}
		const fn: PgFunction = {
			schema: f.schema,
			name: f.name,
			args: inputs,
			volatility: f.volatility,
			setOf: f.setof,
			returns,
			columns,
			returnTypeName: f.rettypname
		};
		const k = key(f.schema, f.name);
		functions.set(k, [...(functions.get(k) ?? []), fn]);
	}

	const settable = new Set<string>(userSettings.rows.map((r) => r.name));
	const roleSettings = new Map<string, [string, string][]>();
	const roleNames = new Set<string>();
	for (const r of roles.rows) {
		roleNames.add(r.role);
		const pairs: [string, string][] = [];
		for (const s of [...(r.settings as string[]), ...(r.dbsettings as string[])]) {
			const eq = s.indexOf('=');
			const name = s.slice(0, eq);
			if (settable.has(name)) pairs.push([name, s.slice(eq + 1)]);
		}
		if (pairs.length) roleSettings.set(r.role, pairs);
	}
	return { tables, functions, roleSettings, roles: roleNames, generation };
}

/** The live schema cache: a snapshot plus reloads on NOTIFY and on lookup misses. */
export class SchemaCache {
	#pool: pg.Pool;
	#schemas: string[];
	#listener: pg.Client | null = null;
	#snapshot: SchemaSnapshot | null = null;
	#loading: Promise<SchemaSnapshot> | null = null;
	#generation = 0;
	#lastMissReload = 0;
	/** When the running load began reading the catalog (`performance.now()`). */
	#loadStartedAt = 0;
	#closed = false;
	#log: (message: string) => void;

	constructor(pool: pg.Pool, schemas: string[], log: (message: string) => void = () => {}) {
		this.#pool = pool;
		this.#schemas = schemas;
		this.#log = log;
	}

	/** The current snapshot, loading it on first use. */
	async get(): Promise<SchemaSnapshot> {
		if (this.#snapshot) return this.#snapshot;
		return this.reload();
	}

	/** Reloads now (concurrent callers share one load). */
	reload(): Promise<SchemaSnapshot> {
		if (this.#loading) return this.#loading;
		const generation = ++this.#generation;
		this.#loadStartedAt = performance.now();
		this.#loading = introspect(this.#pool, this.#schemas, generation)
			.then((snapshot) => {
				this.#snapshot = snapshot;
				return snapshot;
			})
			.finally(() => {
				this.#loading = null;
			});
		return this.#loading;
	}

	/**
	 * Reloads after a lookup missed, because a table or function created a moment ago may not
	 * have been announced yet. Rate-limited so that requests for names that never exist cannot
	 * keep the catalog busy.
	 */
	async reloadAfterMiss(): Promise<SchemaSnapshot> {
		const missedAt = performance.now();
		// Only a load that began after the miss is sure to see what was committed before it; one
		// already running may have read the catalog too early.
		const fresh = () => this.#loading !== null && this.#loadStartedAt >= missedAt;
		if (this.#loading && !fresh()) await this.#loading.catch(() => undefined);
		if (fresh()) return this.#loading!;
		const wait = this.#lastMissReload + 100 - Date.now();
		if (wait > 0) await new Promise((r) => setTimeout(r, wait));
		if (fresh()) return this.#loading!;
		if (this.#loading) await this.#loading.catch(() => undefined);
		this.#lastMissReload = Date.now();
		return this.reload();
	}

	/** Starts listening on channel `pgrst` for reload requests. */
	async listen(connectionString: string): Promise<void> {
		const client = new pg.Client({ connectionString });
		client.on('error', (e) => this.#log(`schema listener error: ${e.message}`));
		client.on('notification', (msg) => {
			const payload = (msg.payload ?? '').trim();
			if (payload === '' || payload === 'reload schema')
				this.reload().catch((e) => this.#log(`schema reload failed: ${e.message}`));
		});
		client.on('end', () => {
			if (this.#closed) return;
			// Reconnect after a lost connection, reloading to pick up what was missed.
			setTimeout(() => {
				if (this.#closed) return;
				this.listen(connectionString)
					.then(() => this.reload())
					.catch((e) => this.#log(`schema listener reconnect failed: ${e.message}`));
			}, 1000).unref();
		});
		await client.connect();
		await client.query('listen pgrst');
		this.#listener = client;
	}

	async close(): Promise<void> {
		this.#closed = true;
		await this.#listener?.end().catch(() => {});
		await this.#loading?.catch(() => {});
	}
}

/** Looks up a table or view by schema and name. */
export function findTable(s: SchemaSnapshot, schema: string, name: string): Table | undefined {
	return s.tables.get(key(schema, name));
}

/** Overloads of a function by schema and name. */
export function findFunctions(s: SchemaSnapshot, schema: string, name: string): PgFunction[] {
	return s.functions.get(key(schema, name)) ?? [];
}
