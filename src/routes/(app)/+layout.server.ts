import { redirect } from '@sveltejs/kit';
import type { LayoutServerLoad } from './$types';

export interface Profile {
	id: string;
	username: string;
	display_name: string | null;
	avatar_url: string | null;
}

/**
 * Everything under (app) needs a session, except `/` itself, which greets visitors with the
 * landing page. The path is read untracked so the layout does not reload on every navigation.
 */
export const load: LayoutServerLoad = async ({ locals, url, untrack, depends }) => {
	depends('app:profile');
	if (!locals.user) {
		const pathname = untrack(() => url.pathname);
		if (pathname === '/') return { profile: null };
		redirect(303, `/login?next=${encodeURIComponent(pathname + untrack(() => url.search))}`);
	}
	const { data } = await locals.supabase
		.from('profiles')
		.select('id, username, display_name, avatar_url')
		.eq('id', locals.user.id)
		.maybeSingle<Profile>();
	// The profile row comes from a trigger; until it is readable, fall back to the account itself.
	const profile: Profile = data ?? {
		id: locals.user.id,
		username: String(locals.user.user_metadata?.username ?? locals.user.email ?? 'me'),
		display_name: (locals.user.user_metadata?.display_name as string | undefined) ?? null,
		avatar_url: null
	};
	return { profile };
};
