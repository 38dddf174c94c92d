/**
 * Errors of the `/api/...` HTTP routes: `{error: {kind, code, message}}` with the kind's status.
 * Database refusals arrive from PostgREST as `{code: 'PTxyz', details: '<machine code>', message}`
 * (docs/chat-api.md) and keep their status, code and message.
 */
import { ZodError } from 'zod';
import { ChatError } from '#lib/chat/errors.ts';

export type ErrorKind =
	| 'ValidationError'
	| 'UnauthorizedError'
	| 'ForbiddenError'
	| 'NotFoundError'
	| 'ConflictError'
	| 'MethodNotAllowedError'
	| 'PayloadTooLargeError'
	| 'UnsupportedMediaTypeError'
	| 'InternalError';

const STATUS: Record<ErrorKind, number> = {
	ValidationError: 400,
	UnauthorizedError: 401,
	ForbiddenError: 403,
	NotFoundError: 404,
	ConflictError: 409,
	MethodNotAllowedError: 405,
	PayloadTooLargeError: 413,
	UnsupportedMediaTypeError: 415,
	InternalError: 500
};

export interface ErrorBody {
	error: { kind: ErrorKind; code: string; message: string };
}

/** An error the API answers with; `status` follows from `kind`. */
export class ApiError extends Error {
	override name = 'ApiError';
	readonly kind: ErrorKind;
	readonly code: string;
	constructor(kind: ErrorKind, code: string, message: string) {
		super(message);
		this.kind = kind;
		this.code = code;
	}
	get status(): number {
		return STATUS[this.kind];
	}
	get body(): ErrorBody {
		return { error: { kind: this.kind, code: this.code, message: this.message } };
	}
}

/** The kind an HTTP status stands for (500 for anything unexpected). */
export function kindOfStatus(status: number): ErrorKind {
	switch (status) {
		case 400:
		case 422:
			return 'ValidationError';
		case 401:
			return 'UnauthorizedError';
		case 403:
			return 'ForbiddenError';
		case 404:
			return 'NotFoundError';
		case 409:
			return 'ConflictError';
		default:
			return 'InternalError';
	}
}

/** The error object supabase-js returns (PostgREST's body). */
export interface PostgrestErrorLike {
	code?: string | null;
	message?: string | null;
	details?: unknown;
	hint?: string | null;
}

/** Maps a PostgREST error (and the response status) to an ApiError. */
export function fromPostgrest(error: PostgrestErrorLike, status?: number): ApiError {
	const code = error.code ?? '';
	const message = error.message || 'Request failed.';
	const details =
		typeof error.details === 'string' && /^[a-z][a-z0-9_]*$/.test(error.details) ? error.details : null;
	const pt = /^PT(\d{3})$/.exec(code);
	if (pt) {
		const kind = kindOfStatus(Number(pt[1]));
		return new ApiError(kind, details ?? kind.replace(/Error$/, '').toLowerCase(), message);
	}
	// A function revoked from anon, called without a user: PostgREST's 401 permission denied.
	if (status === 401 && code === '42501') {
		return new ApiError('UnauthorizedError', 'not_authenticated', 'Sign in first.');
	}
	// PostgREST's own JWT errors, and a 401 from the gateway.
	if (code === 'PGRST301' || code === 'PGRST302' || code === 'PGRST303' || status === 401) {
		const expired = /expired/i.test(message);
		return new ApiError(
			'UnauthorizedError',
			expired ? 'token_expired' : 'invalid_token',
			expired ? 'Your session has expired: sign in again.' : 'Sign in first.'
		);
	}
	switch (code) {
		case '42501':
			return new ApiError('ForbiddenError', 'forbidden', 'You are not allowed to do that.');
		case '22P02':
		case '22023':
		case '23502':
		case '23514':
		case '22001':
			return new ApiError('ValidationError', 'invalid_input', message);
		case '23505':
			return new ApiError('ConflictError', 'conflict', message);
		case '23503':
			return new ApiError('NotFoundError', 'not_found', message);
	}
	if (status && status >= 400 && status < 500) {
		const kind = kindOfStatus(status);
		return new ApiError(kind, kind === 'InternalError' ? 'request_failed' : 'invalid_request', message);
	}
	return new ApiError('InternalError', 'internal', 'Something went wrong. Try again.');
}

/** Maps a refusal the typed RPC seam (src/lib/rpc.ts) threw, as `fromPostgrest` maps the response it came from. */
export function fromChatError(error: ChatError): ApiError {
	return fromPostgrest({ code: error.code, message: error.message, details: error.detail }, error.status);
}

/** A ValidationError listing zod's issues (`path: message; ...`). */
export function fromZod(error: ZodError, code = 'invalid_request'): ApiError {
	const issues = error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
	return new ApiError('ValidationError', code, issues.join('; ') || 'Invalid request.');
}

/** A JSON response of an ApiError, a ChatError or a ZodError (or of any other thrown value, as a 500 that reveals nothing). */
export function errorResponse(error: unknown): Response {
	const known =
		error instanceof ApiError
			? error
			: error instanceof ChatError
				? fromChatError(error)
				: error instanceof ZodError
					? fromZod(error)
					: null;
	if (!known) console.error('api: unexpected error', error);
	const api = known ?? new ApiError('InternalError', 'internal', 'Something went wrong. Try again.');
	const headers: Record<string, string> = { 'content-type': 'application/json' };
	if (api.kind === 'UnauthorizedError') headers['www-authenticate'] = 'Bearer';
	return new Response(JSON.stringify(api.body), { status: api.status, headers });
}
