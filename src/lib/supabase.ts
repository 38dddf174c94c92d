/**
 * The browser's Supabase client: one per page, sharing the session cookies with the server hooks
 * (`hooks.server.ts` makes the per-request client on the server side).
 */
import { createBrowserClient } from '@supabase/ssr';
import type { SupabaseClient } from '@supabase/supabase-js';
import { browser } from '$app/env';
import { PUBLIC_SUPABASE_ANON_KEY, PUBLIC_SUPABASE_URL } from '$app/env/public';

let cached: SupabaseClient | null = null;

/**
 * The page's Supabase client, created on first use. Only for the browser: on the server one client
 * per request comes from `event.locals.supabase`, since a shared one would mix users' sessions.
 */
export function createBrowserSupabase(): SupabaseClient {
	if (!browser)
		throw new Error('createBrowserSupabase() is for the browser; use event.locals.supabase on the server');
	cached ??= createBrowserClient(PUBLIC_SUPABASE_URL, PUBLIC_SUPABASE_ANON_KEY);
	return cached;
}
