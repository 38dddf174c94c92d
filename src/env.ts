import { defineEnvVars } from '@sveltejs/kit/env';

/** The variables the app reads; `npm run dev` writes them to `.env` for the embedded stack. */
export const variables = defineEnvVars({
	PUBLIC_SUPABASE_URL: { public: true },
	PUBLIC_SUPABASE_ANON_KEY: { public: true },
	SUPABASE_SERVICE_ROLE_KEY: {},
	DATABASE_URL: {}
});
