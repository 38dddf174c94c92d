import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ChatError } from '../chat/errors.ts';
import { FakeDatabase, FakeRpcError, FakeSupabase } from '../chat/testing/fake-supabase.ts';
import { ARGON2_PARAMS, decryptBackup } from './backup.ts';
import { newConversationKey, openText, sealText } from './e2ee.ts';
import { Keyring } from './keyring.svelte.ts';
import { checkSignature, signingPublicKeyOf, type SignedFields } from './signing.ts';
import { V1_BACKUP } from './testing/v1-backup.ts';

/** Fakes the two RPCs the key ring uses over the shared tables. */
function withKeyRpcs(
	client: FakeSupabase,
	conversation: { id: string; key_epoch: number; members: string[] }
) {
	client.rpcHandlers.get_conversation = () => ({
		id: conversation.id,
		key_epoch: conversation.key_epoch,
		participants: conversation.members.map((user_id) => ({ user_id, role: 'member' }))
	});
	client.rpcHandlers.publish_conversation_keys = (args, caller) => {
		const rows = client.db.table('conversation_keys');
		for (const k of args.keys as { user_id: string; wrapped_key: string; nonce: string }[]) {
			// Like a primary key with "on conflict do nothing": the first key of an epoch stays.
			if (
				rows.some(
					(r) =>
						r.conversation_id === args.conversation_id && r.epoch === args.epoch && r.user_id === k.user_id
				)
			) {
				continue;
			}
			rows.push({ conversation_id: args.conversation_id, epoch: args.epoch, ...k, wrapped_by: caller });
		}
		return null;
	};
	return client;
}

function setup(userIds: string[]) {
	const db = new FakeDatabase();
	for (const id of userIds) db.table('profiles').push({ id, public_key: null });
	return db;
}

describe('Keyring identity', () => {
	it('creates, stores and publishes an identity on first use, then reuses it', async () => {
		const db = setup(['alice']);
		const idb = new IDBFactory();
		const client = new FakeSupabase('alice', db);
		const ring = new Keyring(idb);
		await ring.ensureIdentity(client.client, 'alice');
		expect(ring.ready).toBe(true);
		expect(ring.needsRestore).toBe(false);
		expect(db.table('profiles')[0].public_key).toBe(ring.publicKey);

		// Same device later: same key, nothing new published.
		const again = new Keyring(idb);
		await again.ensureIdentity(client.client, 'alice');
		expect(again.publicKey).toBe(ring.publicKey);
	});

	it('publishes the signing key of its identity, and signs with it', async () => {
		const db = setup(['alice']);
		const idb = new IDBFactory();
		const client = new FakeSupabase('alice', db);
		const ring = new Keyring(idb);
		await ring.ensureIdentity(client.client, 'alice');
		const published = db.table('profiles')[0].signing_key as string;
		expect(published).toMatch(/^[A-Za-z0-9+/]{43}=$/);
		const fields: SignedFields = {
			kind: 'message',
			conversationId: 'c1',
			epoch: 1,
			clientId: 'k1',
			messageType: 'text',
			senderId: 'alice',
			replyToId: null,
			nonce: 'bg==',
			ciphertext: 'Yw==',
			attachment: null
		};
		expect(await checkSignature(fields, await ring.sign(fields), [published])).toBe('verified');

		// An identity from before messages were signed: its next start publishes the signing key.
		db.table('profiles')[0].signing_key = null;
		await new Keyring(idb).ensureIdentity(client.client, 'alice');
		expect(db.table('profiles')[0].signing_key).toBe(published);

		// A device without the identity cannot sign.
		const locked = new Keyring(new IDBFactory());
		const err = await locked.sign(fields).catch((e: unknown) => e);
		expect((err as ChatError).detail).toBe('no_identity');
	});

	it('asks for a restore on a second device, which then unwraps old keys with the right passphrase', async () => {
		const db = setup(['alice', 'bob']);
		const convo = { id: 'c1', key_epoch: 0, members: ['alice', 'bob'] };
		const alice1 = withKeyRpcs(new FakeSupabase('alice', db), convo);
		const bob = withKeyRpcs(new FakeSupabase('bob', db), convo);
		const laptop = new Keyring(new IDBFactory());
		const bobRing = new Keyring(new IDBFactory());
		await laptop.ensureIdentity(alice1.client, 'alice');
		await bobRing.ensureIdentity(bob.client, 'bob');

		// Bob opens the conversation's first epoch; Alice's laptop backs up her identity.
		const key = await bobRing.conversationKey('c1', 0);
		expect(key).toHaveLength(32);
		const sealed = sealText(key!, 'from bob');
		await laptop.backup('a long passphrase');
		expect(laptop.hasBackup).toBe(true);
		const stored = db.table('key_backups')[0];
		expect(stored.user_id).toBe('alice');
		expect(JSON.stringify(stored.backup)).not.toContain('secret');

		const phone = new Keyring(new IDBFactory());
		let changed = 0;
		phone.onIdentityChange = () => changed++;
		await phone.ensureIdentity(alice1.client, 'alice');
		expect(phone.needsRestore).toBe(true);
		expect(phone.ready).toBe(false);
		expect(phone.hasBackup).toBe(true);
		await expect(phone.conversationKey('c1', 0)).rejects.toThrow(/identity/);

		expect(await phone.restore('the wrong passphrase')).toBe(false);
		expect(phone.needsRestore).toBe(true);
		expect(await phone.restore('a long passphrase')).toBe(true);
		expect(phone.ready).toBe(true);
		expect(phone.publicKey).toBe(laptop.publicKey);
		expect(changed).toBe(1);
		const phoneKey = await phone.conversationKey('c1', 0, { create: false });
		expect(openText(phoneKey!, sealed.ciphertext, sealed.nonce)).toBe('from bob');
	});

	it('refuses weak passphrases and reports a missing backup', async () => {
		const db = setup(['alice']);
		const client = new FakeSupabase('alice', db);
		const ring = new Keyring(new IDBFactory());
		await ring.ensureIdentity(client.client, 'alice');
		await expect(ring.backup('short')).rejects.toThrow(/passphrase/);
		await expect(ring.restore('whatever it is')).rejects.toThrow(/no key backup/);
	});

	it('backs up with Argon2id, and seals an old PBKDF2 backup again with it on restore', async () => {
		const db = setup(['alice']);
		const client = new FakeSupabase('alice', db);
		const laptop = new Keyring(new IDBFactory());
		await laptop.ensureIdentity(client.client, 'alice');
		await laptop.backup('a long passphrase');
		expect(db.table('key_backups')[0].backup).toMatchObject({ v: 2, kdf: 'argon2id', ...ARGON2_PARAMS });

		// An account whose backup a PBKDF2 (v1) version of Parley wrote.
		const { publicKey, secretKey, passphrase, backup } = V1_BACKUP;
		const old = setup(['ann']);
		Object.assign(old.table('profiles')[0], { public_key: publicKey, signing_key: null });
		old.table('key_backups').push({ user_id: 'ann', backup, updated_at: '2026-11-24T10:00:00+00:00' });
		const ann = new FakeSupabase('ann', old);
		const phone = new Keyring(new IDBFactory());
		await phone.ensureIdentity(ann.client, 'ann');
		expect(phone.needsRestore).toBe(true);
		expect(await phone.restore('not the passphrase')).toBe(false);
		expect(old.table('key_backups')[0].backup).toEqual(backup); // a failed restore changes nothing
		expect(await phone.restore(passphrase)).toBe(true);
		expect(phone.publicKey).toBe(publicKey);

		const [row] = old.table('key_backups');
		expect(old.table('key_backups')).toHaveLength(1);
		expect(row.backup).toMatchObject({ v: 2, kdf: 'argon2id', ...ARGON2_PARAMS });
		expect(JSON.stringify(row.backup)).not.toContain(secretKey);
		const reopened = await decryptBackup(row.backup, passphrase);
		expect(reopened && btoa(String.fromCharCode(...reopened))).toBe(secretKey);
		expect(old.table('profiles')[0].signing_key).toBe(signingPublicKeyOf(reopened!));

		// Restoring the upgraded backup elsewhere works and leaves it as it is.
		const tablet = new Keyring(new IDBFactory());
		await tablet.ensureIdentity(ann.client, 'ann');
		expect(await tablet.restore(passphrase)).toBe(true);
		expect(old.table('key_backups')[0].backup).toEqual(row.backup);
	});
});

describe('Keyring conversation keys', () => {
	it('makes the current epoch key once, wraps it for every member, and caches it', async () => {
		const db = setup(['alice', 'bob', 'carol']);
		const convo = { id: 'c1', key_epoch: 2, members: ['alice', 'bob', 'carol'] };
		const alice = withKeyRpcs(new FakeSupabase('alice', db), convo);
		const bob = withKeyRpcs(new FakeSupabase('bob', db), convo);
		const carol = withKeyRpcs(new FakeSupabase('carol', db), convo);
		const rings = [
			new Keyring(new IDBFactory()),
			new Keyring(new IDBFactory()),
			new Keyring(new IDBFactory())
		];
		await rings[0].ensureIdentity(alice.client, 'alice');
		await rings[1].ensureIdentity(bob.client, 'bob');
		await rings[2].ensureIdentity(carol.client, 'carol');

		const [k1, k1again] = await Promise.all([
			rings[0].conversationKey('c1', 2),
			rings[0].conversationKey('c1', 2)
		]);
		expect(k1again).toBe(k1);
		expect(alice.callsOf('publish_conversation_keys')).toHaveLength(1);
		const rows = db.table('conversation_keys');
		expect(rows.map((r) => r.user_id).sort()).toEqual(['alice', 'bob', 'carol']);
		expect(rows.every((r) => r.wrapped_by === 'alice' && r.epoch === 2)).toBe(true);
		// The server only ever sees wrapped keys.
		expect(JSON.stringify(rows)).not.toContain(btoa(String.fromCharCode(...k1!)));

		expect(await rings[1].conversationKey('c1', 2)).toEqual(k1);
		expect(await rings[2].conversationKey('c1', 2, { create: false })).toEqual(k1);
		expect(bob.callsOf('publish_conversation_keys')).toHaveLength(0);
	});

	it('never makes keys for old epochs or conversations I am not in, and does not cache misses', async () => {
		const db = setup(['alice', 'bob']);
		const convo = { id: 'c1', key_epoch: 3, members: ['bob'] };
		const alice = withKeyRpcs(new FakeSupabase('alice', db), convo);
		const ring = new Keyring(new IDBFactory());
		await ring.ensureIdentity(alice.client, 'alice');
		expect(await ring.conversationKey('c1', 3)).toBeNull();
		convo.members.push('alice');
		expect(await ring.conversationKey('c1', 1)).toBeNull();
		expect(await ring.conversationKey('c1', 3, { create: false })).toBeNull();
		expect(alice.callsOf('publish_conversation_keys')).toHaveLength(0);
		expect(await ring.conversationKey('c1', 3)).toHaveLength(32);
	});

	it('adopts the key another member published first when two race for an epoch', async () => {
		const db = setup(['alice', 'bob']);
		const convo = { id: 'c1', key_epoch: 0, members: ['alice', 'bob'] };
		const alice = withKeyRpcs(new FakeSupabase('alice', db), convo);
		const bob = withKeyRpcs(new FakeSupabase('bob', db), convo);
		const a = new Keyring(new IDBFactory());
		const b = new Keyring(new IDBFactory());
		await a.ensureIdentity(alice.client, 'alice');
		await b.ensureIdentity(bob.client, 'bob');
		const [ka, kb] = await Promise.all([a.conversationKey('c1', 0), b.conversationKey('c1', 0)]);
		expect(ka).toEqual(kb);
	});

	it('reports a refused publish as its ChatError, unless a key for me was stored meanwhile', async () => {
		const db = setup(['alice', 'bob']);
		const convo = { id: 'c1', key_epoch: 0, members: ['alice', 'bob'] };
		const alice = withKeyRpcs(new FakeSupabase('alice', db), convo);
		const ring = new Keyring(new IDBFactory());
		await ring.ensureIdentity(alice.client, 'alice');
		const publish = alice.rpcHandlers.publish_conversation_keys;
		alice.rpcHandlers.publish_conversation_keys = () => {
			throw new FakeRpcError(409, 'stale_epoch', 'The epoch moved on');
		};
		const refused = await ring.conversationKey('c1', 0).catch((e: unknown) => e);
		expect(refused).toBeInstanceOf(ChatError);
		expect(refused).toMatchObject({ status: 409, detail: 'stale_epoch', code: 'PT409' });

		// Bob's key landed while mine was refused: the stored row wins over the refusal.
		const bob = withKeyRpcs(new FakeSupabase('bob', db), convo);
		const b = new Keyring(new IDBFactory());
		await b.ensureIdentity(bob.client, 'bob');
		alice.rpcHandlers.publish_conversation_keys = async (args, caller) => {
			await b.conversationKey('c1', 0);
			await publish(args, caller);
			throw new FakeRpcError(409, 'stale_epoch', 'The epoch moved on');
		};
		expect(await ring.conversationKey('c1', 0)).toEqual(await b.conversationKey('c1', 0));
	});

	it('shares an existing key with a member added later, and rejects keys wrapped by someone else', async () => {
		const db = setup(['alice', 'bob', 'dave']);
		const convo = { id: 'c1', key_epoch: 0, members: ['alice', 'bob'] };
		const alice = withKeyRpcs(new FakeSupabase('alice', db), convo);
		const dave = withKeyRpcs(new FakeSupabase('dave', db), convo);
		const a = new Keyring(new IDBFactory());
		const d = new Keyring(new IDBFactory());
		await a.ensureIdentity(alice.client, 'alice');
		await d.ensureIdentity(dave.client, 'dave');
		const key = await a.conversationKey('c1', 0);
		expect(await d.conversationKey('c1', 0, { create: false })).toBeNull();
		convo.members.push('dave');
		await a.shareConversationKey('c1', 0, ['dave']);
		expect(await d.conversationKey('c1', 0, { create: false })).toEqual(key);

		// A row that claims another wrapper does not open.
		const forged = db.table('conversation_keys').find((r) => r.user_id === 'dave')!;
		forged.epoch = 9;
		forged.wrapped_by = 'bob';
		db.table('profiles').find((p) => p.id === 'bob')!.public_key = db
			.table('profiles')
			.find((p) => p.id === 'dave')!.public_key;
		expect(await d.conversationKey('c1', 9, { create: false })).toBeNull();
		expect(newConversationKey()).not.toEqual(key);
	});
});

describe('Keyring and the history rule', () => {
	/** members_missing_key as the database answers it: the current epoch, and earlier ones I hold under `shared`. */
	function withMissingKeys(
		client: FakeSupabase,
		convo: { id: string; key_epoch: number; members: string[]; rule: 'joined' | 'shared' }
	) {
		client.rpcHandlers.members_missing_key = (_args, caller) => {
			const keys = client.db.table('conversation_keys');
			const held = (user: string, epoch: number) =>
				keys.some((k) => k.conversation_id === convo.id && k.user_id === user && k.epoch === epoch);
			const epochs = [
				convo.key_epoch,
				...(convo.rule === 'shared'
					? keys
							.filter((k) => k.user_id === caller && Number(k.epoch) < convo.key_epoch)
							.map((k) => Number(k.epoch))
					: [])
			].filter((epoch) => held(caller, epoch));
			const publicKey = (user: string) => client.db.table('profiles').find((p) => p.id === user)?.public_key;
			return epochs.flatMap((epoch) =>
				convo.members
					.filter((user) => publicKey(user) && !held(user, epoch))
					.map((user) => ({ user_id: user, public_key: publicKey(user), epoch }))
			);
		};
		return client;
	}

	async function group(rule: 'joined' | 'shared') {
		const db = setup(['alice', 'bob', 'dev']);
		const convo = { id: 'c1', key_epoch: 1, members: ['alice', 'bob'], rule };
		const alice = withMissingKeys(withKeyRpcs(new FakeSupabase('alice', db), convo), convo);
		const dev = withKeyRpcs(new FakeSupabase('dev', db), convo);
		const [a, d] = [new Keyring(new IDBFactory()), new Keyring(new IDBFactory())];
		await a.ensureIdentity(alice.client, 'alice');
		await d.ensureIdentity(dev.client, 'dev');
		// Two epochs of history before Dev joins (someone left in between).
		const first = await a.conversationKey('c1', 1);
		convo.key_epoch = 2;
		const second = await a.conversationKey('c1', 2);
		convo.members.push('dev');
		return { db, convo, alice, a, d, first, second };
	}

	it("under 'shared' wraps every earlier epoch's key I hold for a newcomer, one publish per epoch", async () => {
		const { alice, a, d, first, second } = await group('shared');
		const publishes = alice.callsOf('publish_conversation_keys').length;
		expect(await a.shareMissingKeys('c1')).toBe(2);
		expect(
			alice
				.callsOf('publish_conversation_keys')
				.slice(publishes)
				.map((c) => [c.epoch, (c.keys as { user_id: string }[]).map((k) => k.user_id)])
		).toEqual([
			[2, ['dev']],
			[1, ['dev']]
		]);
		expect(await d.conversationKey('c1', 1, { create: false })).toEqual(first);
		expect(await d.conversationKey('c1', 2, { create: false })).toEqual(second);
		// Nothing is missing any more.
		expect(await a.shareMissingKeys('c1')).toBe(0);
	});

	it("under 'joined' gives only the current epoch's key (the database lists nothing older)", async () => {
		const { a, d, second } = await group('joined');
		expect(await a.shareMissingKeys('c1')).toBe(1);
		expect(await d.conversationKey('c1', 1, { create: false })).toBeNull();
		expect(await d.conversationKey('c1', 2, { create: false })).toEqual(second);
	});

	it('skips an epoch the database refuses meanwhile and still gives the others', async () => {
		const { alice, a, d, second } = await group('shared');
		const publish = alice.rpcHandlers.publish_conversation_keys;
		alice.rpcHandlers.publish_conversation_keys = (args, caller) => {
			if (args.epoch === 1) throw new FakeRpcError(409, 'stale_epoch', 'The rule changed');
			return publish(args, caller);
		};
		expect(await a.shareMissingKeys('c1')).toBe(1);
		expect(await d.conversationKey('c1', 1, { create: false })).toBeNull();
		expect(await d.conversationKey('c1', 2, { create: false })).toEqual(second);
	});
});
