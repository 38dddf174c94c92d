/**
 * The shared shape of every `/api/...` route: read the Bearer token, validate the input with zod,
 * call the SQL functions under the caller's JWT through the typed RPC seam (src/lib/rpc.ts), map
 * errors to `{error: {kind, code, message}}`.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { RequestEvent } from '@sveltejs/kit';
import type { z } from 'zod';
import { PUBLIC_SUPABASE_ANON_KEY, PUBLIC_SUPABASE_URL } from '$app/env/public';
import type { Database } from '#lib/database.types.ts';
import { ApiError, errorResponse, fromZod } from './errors.ts';
import { bearerToken } from './token.ts';

/** A supabase-js client acting as the token's user (no session storage: one per request). */
export function userClient(token: string): SupabaseClient<Database> {
	return createClient<Database>(PUBLIC_SUPABASE_URL, PUBLIC_SUPABASE_ANON_KEY, {
		global: { headers: { Authorization: `Bearer ${token}` } },
		auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false }
	});
}

/** Parses `value` with `schema`, or throws a ValidationError. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, code = 'invalid_request'): z.output<S> {
	const result = schema.safeParse(value);
	if (!result.success) throw fromZod(result.error, code);
	return result.data;
}

/** The largest `/api` body: a message is at most 64 KiB of ciphertext plus a little metadata. */
export const MAX_BODY_BYTES = 256 * 1024;
/** The deepest nesting an `/api` body may have: the contract's bodies nest two or three levels. */
export const MAX_BODY_DEPTH = 16;

/** How deeply `value` nests arrays and objects (iterative: a hostile value cannot overflow the stack). */
export function nestingDepth(value: unknown): number {
	let deepest = 0;
	const todo: [unknown, number][] = [[value, 1]];
	for (let next = todo.pop(); next; next = todo.pop()) {
		const [v, depth] = next;
		if (v === null || typeof v !== 'object') continue;
		deepest = Math.max(deepest, depth);
		for (const child of Array.isArray(v) ? v : Object.values(v)) todo.push([child, depth + 1]);
	}
	return deepest;
}

/**
 * The request's JSON body parsed with `schema` (an empty body counts as `{}`). A body must be
 * declared `application/json` (415 otherwise), at most MAX_BODY_BYTES (413) and MAX_BODY_DEPTH deep (400).
 */
export async function body<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S>> {
	if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) throw tooLarge();
	const text = await request.text();
	if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw tooLarge();
	let value: unknown = {};
	if (text.trim() !== '') {
		const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
		if (!/^application\/([a-z0-9.+-]+\+)?json$/.test(type)) {
			throw new ApiError(
				'UnsupportedMediaTypeError',
				'unsupported_media_type',
				`Send the body as application/json${type ? `, not ${type}` : ''}.`
			);
		}
		try {
			value = JSON.parse(text);
		} catch {
			throw new ApiError('ValidationError', 'invalid_json', 'The request body is not valid JSON.');
		}
		if (nestingDepth(value) > MAX_BODY_DEPTH) {
			throw new ApiError(
				'ValidationError',
				'invalid_json',
				`The request body nests deeper than ${MAX_BODY_DEPTH} levels.`
			);
		}
	}
	return parse(schema, value, 'invalid_body');
}

function tooLarge(): ApiError {
	return new ApiError(
		'PayloadTooLargeError',
		'payload_too_large',
		`The request body is over ${MAX_BODY_BYTES} bytes.`
	);
}

/**
 * The `{error}` answer for a method a route does not have (SvelteKit's own 405 is plain text),
 * keeping the `Allow` header it lists the route's methods in.
 */
export function methodNotAllowed(method: string, allow: string | null): Response {
	const error = new ApiError(
		'MethodNotAllowedError',
		'method_not_allowed',
		`${method} is not allowed here${allow ? `: use ${allow}` : ''}.`
	);
	const response = errorResponse(error);
	if (allow) response.headers.set('allow', allow);
	return response;
}

/** A JSON response. */
export function json(data: unknown, status = 200): Response {
	return new Response(JSON.stringify(data ?? null), {
		status,
		headers: { 'content-type': 'application/json' }
	});
}

/** Wraps a route handler: authenticates, and turns every thrown error into the JSON error body. */
export function route<E extends RequestEvent>(
	handler: (event: E, supabase: SupabaseClient<Database>) => Promise<Response>
): (event: E) => Promise<Response> {
	return async (event) => {
		try {
			const supabase = userClient(bearerToken(event.request));
			return await handler(event, supabase);
		} catch (error) {
			return errorResponse(error);
		}
	};
}
