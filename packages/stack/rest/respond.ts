/**
 * Response writing: what a planned request answers once its statement ran: the status (200,
 * 201, 204, 206), the Content-Range, Preference-Applied and Location headers, and the body in the
 * negotiated media type. Also the checks a result must pass before its transaction commits
 * (a single object, `max-affected`), which fail the request instead of answering it.
 */
import { errors, type ApiError } from './errors.ts';
import { CSV_TYPE, jsonType, toCsv, type MediaType } from './media.ts';
import type { ActionPlan } from './planner.ts';
import type { Preferences } from './prefer.ts';
import type { ApiRequest } from './request.ts';

export interface Reply {
	status: number;
	headers: Record<string, string>;
	body?: string;
	contentType?: string;
}

/** What the statement answered: its one row of total count, page count and body. */
export interface Outcome {
	total: number | null;
	page: number;
	body: string | null;
}

/** A check of the statement's row before commit; an error rolls the request back. */
export type OutcomeCheck = (row: { page: string }) => ApiError | undefined;

function singleCheck(media: MediaType): OutcomeCheck | undefined {
	if (media.kind !== 'object') return undefined;
	return (row) => (Number(row.page) === 1 ? undefined : errors.singularity(Number(row.page)));
}

/** The check a write or call must pass before it commits, if any. */
export function outcomeCheck(api: ApiRequest, plan: ActionPlan): OutcomeCheck | undefined {
	if (plan.kind === 'read') return undefined;
	if (plan.kind === 'call')
		return !api.isRead && api.media.kind === 'object' && plan.call.fn.setOf
			? singleCheck(api.media)
			: undefined;
	const single = singleCheck(api.media);
	const max = api.prefs.handling === 'strict' ? api.prefs.maxAffected : undefined;
	if (!single && max === undefined) return undefined;
	return (row) => {
		if (max !== undefined && Number(row.page) > max) return errors.maxAffected(row.page);
		return single?.(row);
	};
}

function applied(prefs: Preferences, keys: (keyof Preferences)[]): Record<string, string> {
	const out: string[] = [];
	for (const k of keys) {
		const v = prefs[k];
		if (v === undefined) continue;
		out.push(k === 'maxAffected' ? `max-affected=${v}` : `${k}=${v}`);
	}
	return out.length ? { 'preference-applied': out.join(', ') } : {};
}

const WRITE_PREFERENCES: (keyof Preferences)[] = ['return', 'count', 'tx', 'handling', 'maxAffected'];
const INSERT_PREFERENCES: (keyof Preferences)[] = [...WRITE_PREFERENCES, 'resolution', 'missing'];

/** Status and Content-Range of a page of rows starting at `offset`; 416 past the end. */
function pageReply(r: Outcome, offset: number, headers: Record<string, string>): Reply {
	const t = r.total === null ? '*' : String(r.total);
	const range = r.page > 0 ? `${offset}-${offset + r.page - 1}/${t}` : `*/${t}`;
	if (r.total !== null && offset > 0 && offset >= r.total && r.page === 0)
		throw errors.rangeNotSatisfiable(
			`An offset of ${offset} was requested, but there are only ${r.total} rows.`,
			r.total
		);
	const status = r.total !== null && (offset > 0 || offset + r.page < r.total) ? 206 : 200;
	return { status, headers: { 'content-range': range, ...headers } };
}

/** Rows in the negotiated media type; `empty` stands for no body. */
function withRows(reply: Reply, media: MediaType, body: string | null, empty: string): Reply {
	if (media.kind === 'csv') {
		reply.body = toCsv(body ?? '[]');
		reply.contentType = CSV_TYPE;
	} else {
		reply.body = body ?? empty;
		reply.contentType = jsonType(media);
	}
	return reply;
}

/** A page of rows as a read answers it (a table's, or a set-returning function's). */
function rowsReply(api: ApiRequest, r: Outcome, offset: number, headers: Record<string, string>): Reply {
	const reply = pageReply(r, offset, headers);
	const notSingle = singleCheck(api.media)?.({ page: String(r.page) });
	if (notSingle) throw notSingle;
	return withRows(reply, api.media, r.body, api.media.kind === 'object' ? '' : '[]');
}

function mutateReply(api: ApiRequest, plan: Extract<ActionPlan, { kind: 'mutate' }>, r: Outcome): Reply {
	const { table, returning, kind } = plan.mutate;
	const created = kind === 'insert';
	const headers: Record<string, string> = {
		'content-range': `*/${r.total ?? '*'}`,
		...applied(api.prefs, created ? INSERT_PREFERENCES : WRITE_PREFERENCES)
	};
	if (returning === 'rows') return withRows({ status: created ? 201 : 200, headers }, api.media, r.body, '');
	if (returning === 'keys' && created && table.primaryKey.length && r.body) {
		const first = (JSON.parse(r.body) as Record<string, unknown>[])[0];
		if (first)
			headers.location =
				`/${table.name}?` +
				table.primaryKey
					.map((k) => `${encodeURIComponent(k)}=eq.${encodeURIComponent(String(first[k]))}`)
					.join('&');
	}
	return { status: created ? 201 : 204, headers };
}

function callReply(api: ApiRequest, plan: Extract<ActionPlan, { kind: 'call' }>, r: Outcome): Reply {
	const { fn, read } = plan.call;
	const headers = applied(api.prefs, ['count', 'tx', 'params']);
	if (fn.returns === 'void') return { status: 204, headers };
	if (fn.returns === 'scalar' && !fn.setOf)
		return { status: 200, headers, body: r.body ?? 'null', contentType: jsonType(api.media) };
	const offset = (read ? read.root.offset : plan.call.offset) ?? 0;
	if (fn.setOf) return rowsReply(api, r, offset, headers);
	// A single composite is one object, whatever the client asked for.
	const media: MediaType = api.media.kind === 'csv' ? api.media : { ...api.media, kind: 'object' };
	return { ...pageReply(r, offset, headers), body: r.body ?? 'null', contentType: jsonType(media) };
}

/** The answer to `api`, planned as `plan`, whose statement answered `r`. */
export function respond(api: ApiRequest, plan: ActionPlan, r: Outcome): Reply {
	let reply: Reply;
	if (plan.kind === 'mutate') return mutateReply(api, plan, r);
	if (plan.kind === 'call') reply = callReply(api, plan, r);
	else reply = rowsReply(api, r, plan.read.root.offset ?? 0, applied(api.prefs, ['count']));
	if (api.method === 'HEAD' && reply.body !== undefined) reply.body = '';
	return reply;
}
