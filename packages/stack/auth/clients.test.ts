/**
 * Whole client flows across the endpoints: the auth events supabase-js reports along a session's
 * life, and @supabase/ssr's cookie sessions carried from one server client to the next.
 */
import { describe, expect, it } from 'vitest';
import { type AuthChangeEvent } from '@supabase/supabase-js';
import { createServerClient } from '@supabase/ssr';
import { newEmail, PASSWORD, useAuthStack } from './testing.ts';

const kit = useAuthStack();

describe('onAuthStateChange', () => {
	it('reports sign-in, refresh, update and sign-out', async () => {
		const email = newEmail();
		await kit.anonClient().auth.signUp({ email, password: PASSWORD });
		const client = kit.anonClient();
		const events: AuthChangeEvent[] = [];
		const { data } = client.auth.onAuthStateChange((event) => {
			events.push(event);
		});
		await client.auth.getSession();
		await client.auth.signInWithPassword({ email, password: PASSWORD });
		await client.auth.refreshSession();
		await client.auth.updateUser({ data: { seen: true } });
		await client.auth.signOut();
		data.subscription.unsubscribe();
		expect(events).toEqual(['INITIAL_SESSION', 'SIGNED_IN', 'TOKEN_REFRESHED', 'USER_UPDATED', 'SIGNED_OUT']);
	});
});

describe('@supabase/ssr cookie sessions', () => {
	it('signs in on one server client and reads the user from the cookies on the next', async () => {
		const { email, user } = await kit.signedUp();
		const jar = new Map<string, string>();
		const cookies = {
			getAll: () => [...jar].map(([name, value]) => ({ name, value })),
			setAll: (list: { name: string; value: string }[]) => {
				for (const { name, value } of list) {
					if (value) jar.set(name, value);
					else jar.delete(name);
				}
			}
		};
		const login = createServerClient(kit.stack.apiUrl, kit.stack.anonKey, { cookies });
		const signIn = await login.auth.signInWithPassword({ email, password: PASSWORD });
		expect(signIn.error).toBeNull();
		expect([...jar.keys()].some((name) => name.startsWith('sb-') && name.includes('auth-token'))).toBe(true);

		const next = createServerClient(kit.stack.apiUrl, kit.stack.anonKey, { cookies });
		const fetched = await next.auth.getUser();
		expect(fetched.error).toBeNull();
		expect(fetched.data.user).toMatchObject({ id: user.id, email });
		const claims = await next.auth.getClaims();
		expect(claims.data?.claims.sub).toBe(user.id);

		await next.auth.signOut();
		const after = createServerClient(kit.stack.apiUrl, kit.stack.anonKey, { cookies });
		expect((await after.auth.getUser()).data.user).toBeNull();
	});
});
