import { redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = () => redirect(303, '/');

export const actions: Actions = {
	default: async ({ locals }) => {
		// Local scope: signing out here must not end the user's sessions on their other devices.
		await locals.supabase.auth.signOut({ scope: 'local' });
		redirect(303, '/login');
	}
};
