/**
 * REST API errors in PostgREST's shape (`{code, message, details, hint}`) and its mapping of
 * PostgreSQL SQLSTATEs to HTTP statuses, so supabase-js callers see the same codes as on Supabase.
 */

/** The JSON body PostgREST answers errors with. */
export interface ErrorBody {
	code: string;
	message: string;
	details: unknown;
	hint: string | null;
}

/** An error raised by the REST layer itself (PGRSTxxx codes) with its HTTP status. */
export class ApiError extends Error {
	override name = 'ApiError';
	readonly status: number;
	readonly code: string;
	readonly details: unknown;
	readonly hint: string | null;
	readonly headers: Record<string, string>;
	constructor(
		status: number,
		code: string,
		message: string,
		details: unknown = null,
		hint: string | null = null,
		headers: Record<string, string> = {}
	) {
		super(message);
		this.status = status;
		this.code = code;
		this.details = details;
		this.hint = hint;
		this.headers = headers;
	}
	get body(): ErrorBody {
		return { code: this.code, message: this.message, details: this.details, hint: this.hint };
	}
}

/** PGRST100: a query parameter that does not parse. */
export function parseError(what: string, details: string | null = null): ApiError {
	return new ApiError(400, 'PGRST100', `"failed to parse ${what}"`, details);
}

/** PGRST127: syntax PostgREST has but this server does not implement; never silently ignored. */
export function unsupported(feature: string): ApiError {
	return new ApiError(
		400,
		'PGRST127',
		'Feature not implemented',
		`${feature} is not supported by this server`
	);
}

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
