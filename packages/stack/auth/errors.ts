/**
 * Auth API errors in GoTrue's wire format. GoTrue answers in two shapes, picked by the request's
 * `X-Supabase-Api-Version` header: clients that send `2024-01-01` or later (auth-js always does)
 * get `{ code: <error code>, message }` and the version echoed back; older clients get the legacy
 * `{ code: <http status>, error_code, msg }`. Both carry the `x-sb-error-code` header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../http.ts';

/** An error the Auth API reports to the client. */
export class AuthError extends Error {
	override name = 'AuthError';
	readonly status: number;
	readonly code: string;
	/** Extra top-level fields of the body (e.g. `weak_password`). */
	readonly extra: Record<string, unknown>;
	constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
		super(message);
		this.status = status;
		this.code = code;
		this.extra = extra;
	}
}

const API_VERSION = '2024-01-01';

/** Does the request ask for the 2024-01-01 error shape? */
function wantsVersionedErrors(req: IncomingMessage): boolean {
	const header = req.headers['x-supabase-api-version'];
	const value = Array.isArray(header) ? header[0] : header;
	if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
	return Date.parse(`${value}T00:00:00Z`) >= Date.parse(`${API_VERSION}T00:00:00Z`);
}

/** Writes `error` in the shape the client asked for. */
export function sendAuthError(req: IncomingMessage, res: ServerResponse, error: AuthError): void {
	const headers: Record<string, string> = { 'x-sb-error-code': error.code };
	if (wantsVersionedErrors(req)) {
		headers['x-supabase-api-version'] = API_VERSION;
		sendJson(res, error.status, { code: error.code, message: error.message, ...error.extra }, headers);
	} else {
		sendJson(
			res,
			error.status,
			{ code: error.status, error_code: error.code, msg: error.message, ...error.extra },
			headers
		);
	}
}

/** 400 with a GoTrue error code. */
export const badRequest = (code: string, message: string) => new AuthError(400, code, message);
/** 403 with a GoTrue error code. */
export const forbidden = (code: string, message: string) => new AuthError(403, code, message);
/** 422 with a GoTrue error code. */
export const unprocessable = (code: string, message: string) => new AuthError(422, code, message);

/** A request for a path the Auth API does not serve. */
export const notFound = () => new AuthError(404, 'not_found', 'Not Found');
/** A served path asked with a method it does not take. */
export const methodNotAllowed = () => new AuthError(405, 'method_not_allowed', 'Method Not Allowed');
/** An email address another account already holds. */
export const emailTaken = () =>
	unprocessable('email_exists', 'A user with this email address has already been registered');

/**
 * Rethrows `error`, reported as `instead` when it is PostgreSQL's unique violation: two requests
 * raced past the up-front check for the same email, and the index caught the second.
 */
export function uniqueAs(instead: AuthError): (error: unknown) => never {
	return (error) => {
		throw (error as { code?: string }).code === '23505' ? instead : error;
	};
}

/** The answer to every GoTrue feature this embedded stack leaves out (OAuth, OTP, MFA...). */
export function notSupported(feature: string): AuthError {
	return new AuthError(
		400,
		'feature_not_supported',
		`${feature} is not supported by the embedded Parley stack: only email + password sign-in is available locally`
	);
}

/**
 * Answers whatever a handler threw: an AuthError in GoTrue's shape, anything else as a logged
 * 500. A response already under way can only be ended.
 */
export function sendFailure(
	req: IncomingMessage,
	res: ServerResponse,
	error: unknown,
	log: (message: string) => void
): void {
	if (res.headersSent) {
		res.end();
		return;
	}
	if (error instanceof AuthError) {
		// The rest of an oversized body is never read: close rather than reuse the connection.
		if (error.status === 413) res.setHeader('connection', 'close');
		return sendAuthError(req, res, error);
	}
	log(`unexpected error: ${(error as Error).stack ?? String(error)}`);
	sendAuthError(req, res, new AuthError(500, 'unexpected_failure', 'Unexpected failure, please try again'));
}
