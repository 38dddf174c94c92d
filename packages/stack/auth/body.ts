/**
 * Request bodies of the Auth API: a JSON object (an empty body counts as `{}`), at most
 * AUTH_BODY_LIMIT bytes, nested no deeper than `../http.ts` allows, and the typed reading of its
 * optional fields. Refusals are GoTrue's: 413 for size, 400 `bad_json` for anything unparsable
 * and 400 `validation_failed` for a field of the wrong type.
 */
import { parseJson, PayloadTooLargeError, readBody } from '../http.ts';
import type { AuthRequest } from './context.ts';
import { AuthError, badRequest } from './errors.ts';
import { attach, type Handler } from './router.ts';

/** Largest request body accepted: auth requests are small, 1 MB is generous. */
export const AUTH_BODY_LIMIT = 1024 * 1024;

export type Json = Record<string, unknown>;

/** Parses the JSON body (an object, or empty for none). */
export async function readJson(r: AuthRequest): Promise<Json> {
	let raw: Buffer;
	try {
		raw = await readBody(r.req, AUTH_BODY_LIMIT);
	} catch (error) {
		if (error instanceof PayloadTooLargeError) {
			throw new AuthError(
				413,
				'request_entity_too_large',
				`Request body too large (max ${AUTH_BODY_LIMIT} bytes)`
			);
		}
		throw error;
	}
	const text = raw.toString('utf8').trim();
	if (!text) return {};
	let parsed: unknown;
	try {
		parsed = parseJson(text);
	} catch (error) {
		throw badRequest('bad_json', `Could not parse request body as JSON: ${(error as Error).message}`);
	}
	if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
		throw badRequest('bad_json', 'Could not parse request body as JSON: expected an object');
	}
	return parsed as Json;
}

/** Reads the body before `next`, which finds it as `r.body`. */
export function withBody<R extends AuthRequest>(next: Handler<R & { body: Json }>): Handler<R> {
	return attach<'body', Json, R>('body', readJson, next);
}

/** The string field `key` of `body`, if present (null counts as absent). */
export function optionalString(body: Json, key: string): string | undefined {
	const value = body[key];
	if (value === undefined || value === null) return undefined;
	if (typeof value !== 'string') throw badRequest('validation_failed', `${key} must be a string`);
	return value;
}

/** The object field `key` of `body`, if present (null counts as absent). */
export function optionalObject(body: Json, key: string): Json | undefined {
	const value = body[key];
	if (value === undefined || value === null) return undefined;
	if (typeof value !== 'object' || Array.isArray(value)) {
		throw badRequest('validation_failed', `${key} must be a JSON object`);
	}
	return value as Json;
}
