/**
 * Thin adapter until the core's `src/lib/supabase.ts` (`createBrowserSupabase`) exists: the
 * browser's Supabase client, reading the session from the cookies the server actions set.
 * `createBrowserClient` keeps one instance per page, so this and the core's client are the same.
 */
import { createBrowserClient } from '@supabase/ssr';
import type { SupabaseClient } from '@supabase/supabase-js';
import { PUBLIC_SUPABASE_ANON_KEY, PUBLIC_SUPABASE_URL } from '$app/env/public';

let client: SupabaseClient | undefined;

export function createBrowserSupabase(): SupabaseClient {
	client ??= createBrowserClient(PUBLIC_SUPABASE_URL, PUBLIC_SUPABASE_ANON_KEY);
	return client;
}
