import { createServerClient } from '@supabase/ssr';
import type { Handle } from '@sveltejs/kit/hooks';
import { PUBLIC_SUPABASE_ANON_KEY, PUBLIC_SUPABASE_URL } from '$app/env/public';
import { methodNotAllowed } from './lib/server/api/handler.ts';

/** One Supabase client per request, reading and writing the session cookies. */
export const handle: Handle = async ({ event, resolve }) => {
	event.locals.supabase = createServerClient(PUBLIC_SUPABASE_URL, PUBLIC_SUPABASE_ANON_KEY, {
		cookies: {
			getAll: () => event.cookies.getAll(),
			setAll: (cookies) => {
				// Secure follows the request's scheme (adapter-node sees https behind a TLS proxy when
				// ORIGIN or PROTOCOL_HEADER says so): SvelteKit's default would mark them Secure on
				// plain http too, except on localhost, and the browser would drop the session.
				const secure = event.url.protocol === 'https:';
				for (const { name, value, options } of cookies) {
					event.cookies.set(name, value, { secure, ...options, path: '/' });
				}
			}
		}
	});

	/** The session only counts once the Auth server has verified its access token. */
	event.locals.safeGetSession = async () => {
		const {
			data: { session }
		} = await event.locals.supabase.auth.getSession();
		if (!session) return { session: null, user: null };
		const {
			data: { user },
			error
		} = await event.locals.supabase.auth.getUser();
		if (error) return { session: null, user: null };
		return { session, user };
	};

	const { session, user } = await event.locals.safeGetSession();
	event.locals.session = session;
	event.locals.user = user;

	const response = await resolve(event, {
		filterSerializedResponseHeaders: (name) => name === 'content-range' || name === 'x-supabase-api-version'
	});
	// The HTTP API answers every refusal in its `{error}` shape, a missing method too.
	if (response.status === 405 && event.url.pathname.startsWith('/api/')) {
		return methodNotAllowed(event.request.method, response.headers.get('allow'));
	}
	return response;
};
