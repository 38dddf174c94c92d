import { fail, redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = ({ locals }) => {
	if (locals.user) redirect(303, '/');
};

const USERNAME = /^[a-z0-9_]{3,32}$/;

export const actions: Actions = {
	default: async ({ request, locals }) => {
		const form = await request.formData();
		const email = String(form.get('email') ?? '').trim();
		const password = String(form.get('password') ?? '');
		const username = String(form.get('username') ?? '')
			.trim()
			.toLowerCase();
		const displayName = String(form.get('display_name') ?? '').trim();
		const values = { email, username, display_name: displayName };

		if (!USERNAME.test(username)) {
			return fail(400, {
				...values,
				message: 'Usernames are 3 to 32 lowercase letters, digits or underscores.'
			});
		}
		if (password.length < 6) return fail(400, { ...values, message: 'Use at least 6 characters.' });

		const { data, error } = await locals.supabase.auth.signUp({
			email,
			password,
			options: { data: { username, display_name: displayName || username } }
		});
		if (error) {
			// A failing profile trigger (most often a taken username) surfaces as a generic database error.
			const message = /database error/i.test(error.message)
				? 'That username is probably taken. Try another one.'
				: error.message;
			return fail(error.status && error.status < 500 ? error.status : 400, { ...values, message });
		}
		if (!data.session) {
			return { ...values, confirm: true, message: 'Check your email to confirm your account.' };
		}
		// A taken username does not fail sign-up: the database picks a free variant. Say so.
		const { data: profile } = await locals.supabase
			.from('profiles')
			.select('username')
			.eq('id', data.session.user.id)
			.maybeSingle<{ username: string }>();
		if (profile && profile.username !== username) {
			redirect(303, `/profile?taken=${encodeURIComponent(username)}`);
		}
		redirect(303, '/');
	}
};
