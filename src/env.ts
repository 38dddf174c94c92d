import { defineEnvVars } from '@sveltejs/kit/env';
import { DEFAULT_ANON_KEY, DEFAULT_API_URL } from '@parley/stack/keys.ts';

/**
 * The variables the app reads. `npm run dev` writes them to `.env`; without one, the app talks to
 * the embedded stack (or `supabase start`) on its default URL with the CLI's default anon key.
 */
export const variables = defineEnvVars({
	PUBLIC_SUPABASE_URL: { public: true, schema: (value) => value || DEFAULT_API_URL },
	PUBLIC_SUPABASE_ANON_KEY: { public: true, schema: (value) => value || DEFAULT_ANON_KEY },
	SUPABASE_SERVICE_ROLE_KEY: { schema: (value) => value ?? '' },
	DATABASE_URL: { schema: (value) => value ?? '' }
});
