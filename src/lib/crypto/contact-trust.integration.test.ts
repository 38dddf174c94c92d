/**
 * ContactTrust against the real embedded stack: verifying a contact survives a new session, a
 * verification the server could have written (not signed by me) does not count, and a contact's
 * key reset is noticed and blocks sending to a verified contact until I accept or re-verify.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '@parley/stack/testing/index.ts';
import { ContactTrust } from './contact-trust.svelte.ts';
import { IdentityKeys } from './identity-keys.ts';
import { Keyring } from './keyring.svelte.ts';

let stack: TestStack;

beforeAll(async () => {
	stack = await startTestStack({ template: 'app' });
});

afterAll(async () => {
	await stack?.stop();
});

async function person(username: string) {
	const client = createClient(stack.apiUrl, stack.anonKey, {
		auth: { persistSession: false, autoRefreshToken: false }
	});
	const { data, error } = await client.auth.signUp({
		email: `${username}@example.test`,
		password: 'a-long-test-password-1',
		options: { data: { username } }
	});
	if (error || !data.user) throw error ?? new Error('no user');
	const idb = new IDBFactory();
	const keyring = new Keyring(idb);
	await keyring.ensureIdentity(client, data.user.id);
	const id = data.user.id;
	const trust = () =>
		new ContactTrust({
			client: () => client,
			me: () => id,
			keyring,
			identities: new IdentityKeys(() => client),
			indexedDB: idb
		});
	return { client, id, keyring, trust };
}

async function verificationsOf(client: SupabaseClient) {
	const { data, error } = await client.from('contact_verifications').select('contact_id, signing_key');
	if (error) throw error;
	return data;
}

describe('ContactTrust on the embedded stack', () => {
	it('verifies, remembers, notices a key reset, blocks until accepted', async () => {
		const ana = await person('ana_trust');
		const ben = await person('ben_trust');

		const first = ana.trust();
		await first.load([ben.id, ana.id]);
		expect(Object.keys(first.contacts)).toEqual([ben.id]);
		expect(first.contacts[ben.id]).toMatchObject({ verified: false, changed: false });
		expect(first.contacts[ben.id].current?.signingKey).toBe(ben.keyring.signingPublicKey);

		await first.verify(ben.id);
		const later = ana.trust();
		await later.load([ben.id]);
		expect(later.contacts[ben.id]).toMatchObject({ verified: true, verifiedKeyChanged: false });

		// Ben resets his identity (a new device without the backup).
		await ben.keyring.resetIdentity();
		const after = ana.trust();
		await after.load([ben.id]);
		expect(after.contacts[ben.id]).toMatchObject({
			verified: false,
			verifiedKeyChanged: true,
			changed: true
		});
		expect(after.blocking([ben.id])).toEqual([ben.id]);

		await after.acknowledge(ben.id);
		expect(after.blocking([ben.id])).toEqual([]);
		expect(after.contacts[ben.id]).toMatchObject({ changed: false, verified: false });
		// Accepting without verifying clears the old verification rather than carrying it over.
		expect(await verificationsOf(ana.client)).toEqual([]);
		const settled = ana.trust();
		await settled.load([ben.id]);
		expect(settled.contacts[ben.id]).toMatchObject({ changed: false, verifiedKeyChanged: false });
	});

	it('announces a signing key slipped into the history, though the profile still shows the old one', async () => {
		const ana = await person('ana_slip');
		const ben = await person('ben_slip');
		const first = ana.trust();
		await first.load([ben.id]);
		expect(first.contacts[ben.id].changed).toBe(false);
		// What a dishonest server would do to sign forgeries as Ben without a visible key change.
		await stack.db.query(
			`insert into public.identity_keys (user_id, signing_key, created_at) values ($1, $2, now() - interval '1 year')`,
			[ben.id, Buffer.alloc(32, 5).toString('base64')]
		);
		const later = ana.trust();
		await later.load([ben.id]);
		expect(later.contacts[ben.id]).toMatchObject({ changed: true, verifiedKeyChanged: false });
		await later.acknowledge(ben.id);
		const settled = ana.trust();
		await settled.load([ben.id]);
		expect(settled.contacts[ben.id].changed).toBe(false);
	});

	it('does not count a verification my identity did not sign, and keeps others out of mine', async () => {
		const ana = await person('ana_forge');
		const ben = await person('ben_forge');
		const eve = await person('eve_forge');
		// A row as a server could write it: the right key, any signature.
		const { error } = await ana.client.from('contact_verifications').insert({
			user_id: ana.id,
			contact_id: ben.id,
			signing_key: ben.keyring.signingPublicKey,
			signature: Buffer.alloc(64, 7).toString('base64')
		});
		expect(error).toBeNull();
		const trust = ana.trust();
		await trust.load([ben.id]);
		expect(trust.contacts[ben.id].verified).toBe(false);

		await trust.verify(ben.id);
		expect(await verificationsOf(eve.client)).toEqual([]);
		const sneaky = await eve.client.from('contact_verifications').insert({
			user_id: ana.id,
			contact_id: eve.id,
			signing_key: eve.keyring.signingPublicKey,
			signature: 'x'.repeat(88)
		});
		expect(sneaky.error?.code).toBe('42501');
		const wipe = await eve.client.from('contact_verifications').delete().eq('user_id', ana.id).select();
		expect(wipe.data).toEqual([]);
		expect(await verificationsOf(ana.client)).toHaveLength(1);
	});
});
