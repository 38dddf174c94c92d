import { fail, redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = ({ locals }) => {
	if (locals.user) redirect(303, '/');
};

/** Only same-site paths, so a crafted link cannot bounce a fresh session to another site. */
function safeNext(value: string | null): string {
	return value && value.startsWith('/') && !value.startsWith('//') ? value : '/';
}

export const actions: Actions = {
	default: async ({ request, locals, url }) => {
		const form = await request.formData();
		const email = String(form.get('email') ?? '').trim();
		const password = String(form.get('password') ?? '');
		if (!email || !password) return fail(400, { email, message: 'Enter your email and password.' });

		const { error } = await locals.supabase.auth.signInWithPassword({ email, password });
		if (error) {
			const message =
				error.code === 'invalid_credentials' || error.status === 400
					? 'That email and password do not match an account.'
					: error.message;
			return fail(error.status && error.status < 500 ? error.status : 400, { email, message });
		}
		redirect(303, safeNext(url.searchParams.get('next')));
	}
};
