import { describe, expect, it } from 'vitest';
import type { Keyring } from '../crypto/keyring.svelte.ts';
import { newConversationKey } from '../crypto/e2ee.ts';
import { ConversationKeys } from './conversation-keys.ts';
import { ChatError } from './errors.ts';
import type { SealContext } from './signatures.ts';
import type { SignedFields } from '../crypto/signing.ts';

/** A key ring holding keys per `conversation@epoch`; `create` makes the missing current one. */
function setup(ready = true) {
	const keys = new Map<string, Uint8Array>([['c1@1', newConversationKey()]]);
	const made: string[] = [];
	const signed: SignedFields[] = [];
	const keyring = {
		ready,
		sign: async (fields: SignedFields) => (signed.push(fields), `sig#${signed.length}`),
		cachedConversationKey: async (id: string, epoch: number) => keys.get(`${id}@${epoch}`) ?? null,
		conversationKey: async (id: string, epoch: number, options: { create?: boolean } = {}) => {
			const k = keys.get(`${id}@${epoch}`);
			if (k || options.create === false) return k ?? null;
			made.push(`${id}@${epoch}`);
			keys.set(`${id}@${epoch}`, newConversationKey());
			return keys.get(`${id}@${epoch}`)!;
		}
	} as unknown as Keyring;
	let epoch = 1;
	const k = new ConversationKeys({ keyring, me: () => 'me', epoch: async () => epoch });
	return { k, made, signed, setEpoch: (e: number) => (epoch = e) };
}

const context: SealContext = {
	kind: 'message',
	clientId: 'c-1',
	messageType: 'text',
	replyToId: null,
	attachment: null
};

describe('ConversationKeys', () => {
	it('signs exactly what it sealed, as me, with the epoch it used', async () => {
		const t = setup();
		const sealed = await t.k.seal('c1', 'hi', { ...context, kind: 'edit', replyToId: 'r-1' });
		expect(sealed.encryption.sig).toBe('sig#1');
		expect(t.signed).toEqual([
			{
				kind: 'edit',
				clientId: 'c-1',
				messageType: 'text',
				replyToId: 'r-1',
				attachment: null,
				conversationId: 'c1',
				epoch: 1,
				senderId: 'me',
				nonce: sealed.encryption.nonce,
				ciphertext: sealed.content_encrypted
			}
		]);
	});

	it('seals under the current epoch, making its key once, and opens what an older epoch sealed', async () => {
		const t = setup();
		const old = await t.k.seal('c1', 'before the bump', context);
		t.setEpoch(2);
		const now = await t.k.seal('c1', 'after', context);
		expect([old.encryption.epoch, now.encryption.epoch]).toEqual([1, 2]);
		expect(t.made).toEqual(['c1@2']);
		await t.k.seal('c1', 'again', context);
		expect(t.made).toEqual(['c1@2']);
		expect(await t.k.open('c1', 1, old.content_encrypted, old.encryption.nonce)).toBe('before the bump');
		expect(await t.k.open('c1', 2, old.content_encrypted, old.encryption.nonce)).toBeNull();
		expect(await t.k.held('c1', 3)).toBeNull();
		expect(t.made).toEqual(['c1@2']);
	});

	it('holds nothing and refuses to seal while the key ring is locked', async () => {
		const t = setup(false);
		expect(await t.k.held('c1', 1)).toBeNull();
		const err = await t.k.seal('c1', 'x', context).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(ChatError);
		expect((err as ChatError).detail).toBe('no_identity');
	});
});
