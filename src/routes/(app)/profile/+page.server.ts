import { fail } from '@sveltejs/kit';
import type { Actions } from './$types';

function validAvatarUrl(value: string): boolean {
	try {
		const url = new URL(value);
		return url.protocol === 'https:' || url.protocol === 'http:';
	} catch {
		return false;
	}
}

export const actions: Actions = {
	profile: async ({ request, locals }) => {
		if (!locals.user) return fail(401, { message: 'Sign in first.' });
		const form = await request.formData();
		const displayName = String(form.get('display_name') ?? '').trim();
		const avatarUrl = String(form.get('avatar_url') ?? '').trim();
		if (displayName.length > 80) return fail(400, { message: 'Keep the display name under 80 characters.' });
		if (avatarUrl && !validAvatarUrl(avatarUrl)) {
			return fail(400, { message: 'The avatar must be an http(s) address of an image.' });
		}
		const { error } = await locals.supabase
			.from('profiles')
			.update({ display_name: displayName || null, avatar_url: avatarUrl || null })
			.eq('id', locals.user.id);
		if (error) return fail(400, { message: error.message });
		return { saved: true };
	}
};
