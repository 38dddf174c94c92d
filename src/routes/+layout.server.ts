import type { LayoutServerLoad } from './$types';

/** Only the verified identity crosses to the browser; the tokens stay in their cookies. */
export const load: LayoutServerLoad = ({ locals }) => ({
	user: locals.user ? { id: locals.user.id, email: locals.user.email ?? null } : null
});
