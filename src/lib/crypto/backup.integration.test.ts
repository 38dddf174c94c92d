/**
 * Key backups against the real embedded stack: `key_backups` takes a v2 (Argon2id) document, and
 * restoring an old PBKDF2 (v1) backup replaces the stored row with a v2 one under the same
 * passphrase, through PostgREST and the table's grants and checks.
 */
import { createClient } from '@supabase/supabase-js';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '@parley/stack/testing/index.ts';
import { ARGON2_PARAMS, decryptBackup } from './backup.ts';
import { toBase64 } from './e2ee.ts';
import { Keyring } from './keyring.svelte.ts';
import { signingPublicKeyOf } from './signing.ts';
import { V1_BACKUP } from './testing/v1-backup.ts';

let stack: TestStack;

beforeAll(async () => {
	stack = await startTestStack({ template: 'app' });
});

afterAll(async () => {
	await stack?.stop();
});

describe('key backups on the embedded stack', () => {
	it('upgrades a restored v1 backup to v2 in key_backups', async () => {
		const client = createClient(stack.apiUrl, stack.anonKey, {
			auth: { persistSession: false, autoRefreshToken: false }
		});
		const { data, error } = await client.auth.signUp({
			email: 'ann_backup@example.test',
			password: 'a-long-test-password-1',
			options: { data: { username: 'ann_backup' } }
		});
		if (error || !data.user) throw error ?? new Error('no user');
		const id = data.user.id;
		// What a PBKDF2-era device left: the published identity and its v1 backup.
		const { publicKey, secretKey, passphrase, backup } = V1_BACKUP;
		const signing_key = signingPublicKeyOf(secretKey);
		expect(
			(await client.from('profiles').update({ public_key: publicKey, signing_key }).eq('id', id)).error
		).toBeNull();
		expect((await client.from('key_backups').insert({ user_id: id, backup })).error).toBeNull();

		const ring = new Keyring(new IDBFactory());
		await ring.ensureIdentity(client, id);
		expect(ring.needsRestore).toBe(true);
		expect(await ring.restore(passphrase)).toBe(true);
		expect(ring.publicKey).toBe(publicKey);

		const { rows } = await stack.db.query('select backup from public.key_backups where user_id = $1', [id]);
		expect(rows).toHaveLength(1);
		expect(rows[0].backup).toMatchObject({ v: 2, kdf: 'argon2id', ...ARGON2_PARAMS });
		const opened = await decryptBackup(rows[0].backup, passphrase);
		expect(opened && toBase64(opened)).toBe(secretKey);
	});
});
