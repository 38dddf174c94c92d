/**
 * The shared shape of every `/api/...` route: read the Bearer token, validate the input with zod,
 * call the SQL functions under the caller's JWT through supabase-js, map errors to
 * `{error: {kind, code, message}}`.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { RequestEvent } from '@sveltejs/kit';
import type { z } from 'zod';
import { PUBLIC_SUPABASE_ANON_KEY, PUBLIC_SUPABASE_URL } from '$app/env/public';
import { ApiError, errorResponse, fromPostgrest, fromZod } from './errors.ts';
import { bearerToken } from './token.ts';

/** A supabase-js client acting as the token's user (no session storage: one per request). */
export function userClient(token: string): SupabaseClient {
	return createClient(PUBLIC_SUPABASE_URL, PUBLIC_SUPABASE_ANON_KEY, {
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

/** The request's JSON body parsed with `schema` (an empty body counts as `{}`). */
export async function body<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S>> {
	const text = await request.text();
	let value: unknown = {};
	if (text.trim() !== '') {
		try {
			value = JSON.parse(text);
		} catch {
			throw new ApiError('ValidationError', 'invalid_json', 'The request body is not valid JSON.');
		}
	}
	return parse(schema, value, 'invalid_body');
}

/** Calls an RPC as the user; returns its data or throws the mapped ApiError. */
export async function rpc<T>(
	supabase: SupabaseClient,
	fn: string,
	args: Record<string, unknown>
): Promise<T> {
	const { data, error, status } = await supabase.rpc(fn, args);
	if (error) throw fromPostgrest(error, status);
	return data as T;
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
	handler: (event: E, supabase: SupabaseClient) => Promise<Response>
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
