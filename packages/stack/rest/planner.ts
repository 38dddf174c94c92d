/**
 * Planning's entry: an ApiRequest and the schema cache's snapshot become the plan of its action,
 * a read of a table, a write to one, or a function call. Misses against the cache throw
 * SchemaMiss (lookup.ts), so the service can reload the cache and plan again.
 */
import { tableOf } from './lookup.ts';
import { parseQuery } from './parser.ts';
import type { CallPlan, MutatePlan, ReadPlan } from './plan.ts';
import { planCall } from './plan-call.ts';
import { planRead, QueryPlanner } from './plan-read.ts';
import { planMutate } from './plan-write.ts';
import type { ApiRequest } from './request.ts';
import type { SchemaSnapshot } from './schema-cache.ts';

export type ActionPlan =
	| { kind: 'read'; read: ReadPlan }
	| { kind: 'mutate'; mutate: MutatePlan }
	| { kind: 'call'; call: CallPlan };

/** The plan of `api`; `maxRows` caps what a read or call returns. */
export function planRequest(snap: SchemaSnapshot, api: ApiRequest, maxRows: number): ActionPlan {
	const { media, prefs } = api;
	if (api.target.kind === 'rpc') return { kind: 'call', call: planCall(snap, api, api.target.name, maxRows) };
	const table = tableOf(snap, api.schema, api.target.name);
	const p = new QueryPlanner(snap, parseQuery(api.params));
	const shape = { single: media.kind === 'object', stripNulls: media.stripNulls };
	if (api.isRead)
		return {
			kind: 'read',
			read: planRead(p, table, { ...shape, count: prefs.count }, { maxRows, range: api.range })
		};
	return { kind: 'mutate', mutate: planMutate(p, table, api.method, api.body, prefs, shape) };
}
