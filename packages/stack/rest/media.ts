/**
 * Media types of the REST API: which one a request's `Accept` asks for (JSON array, single
 * object, CSV; `nulls=stripped`), the Content-Type each is answered with, and rows as CSV.
 */
import { errors } from './errors.ts';

export interface MediaType {
	kind: 'json' | 'object' | 'csv';
	stripNulls: boolean;
}

/** Chooses the response media type from `Accept`, or fails with 406 PGRST107. */
export function negotiate(accept: string | undefined): MediaType {
	if (!accept) return { kind: 'json', stripNulls: false };
	const offers = accept
		.split(',')
		.map((part, i) => {
			const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
			const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? 1);
			return { type, params, q: Number.isFinite(q) ? q : 0, i };
		})
		.filter((o) => o.q > 0)
		.sort((a, b) => b.q - a.q || a.i - b.i);
	for (const o of offers) {
		const stripNulls = o.params.includes('nulls=stripped');
		switch (o.type) {
			case '*/*':
			case 'application/*':
			case 'application/json':
			case 'application/vnd.pgrst.array+json':
			case 'application/vnd.pgrst.array':
				return { kind: 'json', stripNulls };
			case 'application/vnd.pgrst.object+json':
			case 'application/vnd.pgrst.object':
				return { kind: 'object', stripNulls };
			case 'text/csv':
			case 'text/*':
				return { kind: 'csv', stripNulls: false };
		}
	}
	throw errors.notAcceptable(accept);
}

export const CSV_TYPE = 'text/csv; charset=utf-8';

/** The Content-Type of a JSON answer in media type `m`. */
export function jsonType(m: MediaType): string {
	return m.kind === 'object'
		? `application/vnd.pgrst.object+json${m.stripNulls ? '; nulls=stripped' : ''}; charset=utf-8`
		: m.stripNulls
			? 'application/vnd.pgrst.array+json; nulls=stripped; charset=utf-8'
			: 'application/json; charset=utf-8';
}

/** Rows (a JSON array) as CSV with a header line. */
export function toCsv(json: string): string {
	const rows = JSON.parse(json) as Record<string, unknown>[];
	if (!rows.length) return '';
	const cols = Object.keys(rows[0]);
	const cell = (v: unknown) => {
		if (v === null || v === undefined) return '';
		const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
		return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
	};
	return [cols.map(cell).join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n');
}
