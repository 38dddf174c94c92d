/**
 * The Supabase CLI's well-known local keys (public knowledge: never use them in production).
 * Kept free of imports so the app's env declaration (src/env.ts) can share them.
 */

/** The API URL of `supabase start` and of the embedded stack. */
export const DEFAULT_API_URL = 'http://127.0.0.1:54321';
/** The JWT secret `supabase start` uses. Public knowledge: never use it in production. */
export const DEFAULT_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
/** The anon key `supabase start` prints (HS256 over DEFAULT_JWT_SECRET, role anon). */
export const DEFAULT_ANON_KEY =
	'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0';
/** The service_role key `supabase start` prints. */
export const DEFAULT_SERVICE_ROLE_KEY =
	'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU';
/** The opaque publishable / secret keys newer CLIs print; accepted as aliases of anon / service_role. */
export const DEFAULT_PUBLISHABLE_KEY = 'sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH';
export const DEFAULT_SECRET_KEY = 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz';
