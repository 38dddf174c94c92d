/** `/settings`, `/health` and `/.well-known/jwks.json` as a client reads them. */
import { describe, expect, it } from 'vitest';
import { useAuthStack } from '../testing.ts';

const kit = useAuthStack();

describe('requests', () => {
	it('serves settings, health and an empty JWKS', async () => {
		const get = (path: string) =>
			fetch(`${kit.stack.apiUrl}/auth/v1${path}`, { headers: { apikey: kit.stack.anonKey } }).then((r) =>
				r.json()
			);
		expect(await get('/settings')).toMatchObject({
			disable_signup: false,
			mailer_autoconfirm: true,
			external: { email: true, phone: false }
		});
		expect(await get('/health')).toMatchObject({ name: 'GoTrue' });
		expect(await get('/.well-known/jwks.json')).toEqual({ keys: [] });
	});
});
