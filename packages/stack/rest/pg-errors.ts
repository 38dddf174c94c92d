/**
 * PostgreSQL errors as the REST API answers them: PostgREST's mapping of SQLSTATEs to HTTP
 * statuses, and the error body built from what PostgreSQL reported.
 */
import type { ErrorBody } from './errors.ts';

/** The subset of node-pg's DatabaseError the mapping reads. */
export interface PgErrorLike {
	code?: string;
	message: string;
	detail?: string;
	hint?: string;
}

/** Is `e` an error reported by PostgreSQL (it carries a five-character SQLSTATE)? */
export function isPgError(e: unknown): e is PgErrorLike {
	return (
		e instanceof Error &&
		typeof (e as PgErrorLike).code === 'string' &&
		/^[0-9A-Z]{5}$/.test((e as PgErrorLike).code!)
	);
}

/**
 * HTTP status of a PostgreSQL error, as PostgREST maps it. `authenticated` tells apart 401 and 403
 * for insufficient privilege (anon gets 401 so a client knows to sign in).
 */
export function pgErrorStatus(code: string, message: string, authenticated: boolean): number {
	if (/^PT\d{3}$/.test(code)) return Number(code.slice(2));
	switch (code) {
		case '23503':
		case '23505':
			return 409;
		case '25006':
			return 405;
		case '42883':
		case '42P01':
			return 404;
		case '42P17':
			return 500;
		case '42501':
			return authenticated ? 403 : 401;
		case 'P0001':
			return 400;
		case '21000':
			return message.endsWith('requires a WHERE clause') ? 400 : 500;
		case '22023':
			return /^role .* does not exist$/.test(message) ? 401 : 400;
	}
	const cls = code.slice(0, 2);
	if (cls === '08' || cls === '53') return 503;
	if (cls === '0L' || cls === '0P' || cls === '28') return 403;
	if (
		['09', '25', '2D', '38', '39', '3B', '40', '54', '55', '57', '58', 'F0', 'HV', 'P0', 'XX'].includes(cls)
	)
		return 500;
	return 400;
}

/** Response status, body and headers for a PostgreSQL error. */
export function fromPgError(
	e: PgErrorLike,
	authenticated: boolean
): { status: number; body: ErrorBody; headers: Record<string, string> } {
	const code = e.code ?? 'XX000';
	const status = pgErrorStatus(code, e.message, authenticated);
	const headers: Record<string, string> = {};
	if (status === 401) headers['www-authenticate'] = 'Bearer';
	return {
		status,
		body: { code, message: e.message, details: e.detail ?? null, hint: e.hint ?? null },
		headers
	};
}
