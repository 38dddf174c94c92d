import { describe, expect, it } from 'vitest';
import { createHmac, hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { fromBase64, generateIdentity, newConversationKey, openText, toBase64 } from './e2ee.ts';
import {
	EMOJI_PADDED_BYTES,
	isReactionEmoji,
	openEmoji,
	reactionKeys,
	reactionSignedBytes,
	reactionTag,
	sealEmoji,
	type ReactionFields
} from './reactions.ts';
import { checkBytes, signBytes, signedBytes, signingKeyOf } from './signing.ts';

const M1 = '6f1c1f3e-0000-4000-8000-0000000000e1';
const M2 = '6f1c1f3e-0000-4000-8000-0000000000e2';

describe('reaction tags', () => {
	it('are HMAC-SHA-256 of message id ‖ emoji under an HKDF key (pinned against node:crypto)', async () => {
		const key = Uint8Array.from({ length: 32 }, (_, i) => i);
		const tagKey = Buffer.from(hkdfSync('sha256', key, new Uint8Array(0), 'parley/reaction-tag/v1', 32));
		const expected = createHmac('sha256', tagKey).update(`${M1}👍`, 'utf8').digest('base64');
		expect(await reactionTag(await reactionKeys(key), M1, '👍')).toBe(expected);
		expect(expected).toMatch(/^[A-Za-z0-9+/]{43}=$/);
	});

	it('are stable per message, emoji and key, and differ when any of them does', async () => {
		const key = newConversationKey();
		const keys = await reactionKeys(key);
		const tag = await reactionTag(keys, M1, '👍');
		expect(await reactionTag(keys, M1, '👍')).toBe(tag);
		// Another object with the same key bytes derives the same keys.
		expect(await reactionTag(await reactionKeys(Uint8Array.from(key)), M1, '👍')).toBe(tag);
		// One spelling of an id: the database answers lowercase, a client may hold it uppercase.
		expect(await reactionTag(keys, M1.toUpperCase(), '👍')).toBe(tag);
		expect(await reactionTag(keys, M2, '👍')).not.toBe(tag);
		expect(await reactionTag(keys, M1, '🎉')).not.toBe(tag);
		expect(await reactionTag(await reactionKeys(newConversationKey()), M1, '👍')).not.toBe(tag);
	});
});

describe('sealed emoji', () => {
	it('open under the same epoch key only, all of one length', async () => {
		const keys = await reactionKeys(newConversationKey());
		const thumbs = sealEmoji(keys, '👍');
		expect(openEmoji(keys, thumbs.emoji_sealed, thumbs.nonce)).toBe('👍');
		const family = sealEmoji(keys, '👨‍👩‍👧‍👦');
		expect(openEmoji(keys, family.emoji_sealed, family.nonce)).toBe('👨‍👩‍👧‍👦');
		// Padded: the length of what is stored does not tell one emoji from another.
		expect(fromBase64(thumbs.emoji_sealed).length).toBe(EMOJI_PADDED_BYTES + nacl.secretbox.overheadLength);
		expect(family.emoji_sealed.length).toBe(thumbs.emoji_sealed.length);
		// A fresh nonce each time.
		expect(sealEmoji(keys, '👍').nonce).not.toBe(thumbs.nonce);
		const other = await reactionKeys(newConversationKey());
		expect(openEmoji(other, thumbs.emoji_sealed, thumbs.nonce)).toBeNull();
		expect(openEmoji(keys, thumbs.emoji_sealed, family.nonce)).toBeNull();
		expect(openEmoji(keys, 'not base64!', thumbs.nonce)).toBeNull();
		expect(openEmoji(keys, thumbs.emoji_sealed, 'AAAA')).toBeNull();
	});

	it('are not sealed under the epoch key itself: a sealed emoji never opens as message text', async () => {
		const key = newConversationKey();
		const sealed = sealEmoji(await reactionKeys(key), '👍');
		expect(openText(key, sealed.emoji_sealed, sealed.nonce)).toBeNull();
	});

	it('refuse what is not one emoji, sealing or opening', async () => {
		const keys = await reactionKeys(newConversationKey());
		for (const bad of ['', ' ', '👍 ', 'a b', 'x'.repeat(17), '\u00a0', '\t', 'tab\u3000', 'nul\u0000']) {
			expect(isReactionEmoji(bad), JSON.stringify(bad)).toBe(false);
			expect(() => sealEmoji(keys, bad)).toThrow();
		}
		expect(isReactionEmoji('x'.repeat(16))).toBe(true);
		expect(isReactionEmoji('❤️')).toBe(true);
		// A member's device sealing anything else by hand: it opens, and is refused.
		const seal = (bytes: Uint8Array) => {
			const nonce = nacl.randomBytes(24);
			return { emoji_sealed: toBase64(nacl.secretbox(bytes, nonce, keys.seal)), nonce: toBase64(nonce) };
		};
		const padded = (text: string, length = EMOJI_PADDED_BYTES) => {
			const out = new Uint8Array(length);
			out.set(new TextEncoder().encode(text));
			return out;
		};
		const text = seal(padded('hello world'));
		expect(openEmoji(keys, text.emoji_sealed, text.nonce)).toBeNull();
		const unpadded = seal(new TextEncoder().encode('👍'));
		expect(openEmoji(keys, unpadded.emoji_sealed, unpadded.nonce)).toBeNull();
		const trailing = padded('👍');
		trailing[40] = 0x41;
		const hidden = seal(trailing);
		expect(openEmoji(keys, hidden.emoji_sealed, hidden.nonce)).toBeNull();
		const fine = seal(padded('👍'));
		expect(openEmoji(keys, fine.emoji_sealed, fine.nonce)).toBe('👍');
	});
});

describe('reaction signatures', () => {
	const fields: ReactionFields = {
		conversationId: '6f1c1f3e-0000-4000-8000-000000000001',
		epoch: 2,
		messageId: M1,
		senderId: '6f1c1f3e-0000-4000-8000-0000000000a1',
		tag: 'dGFn'.repeat(10) + 'dGE=',
		emojiSealed: 'c2VhbGVk',
		nonce: 'bm9uY2U='
	};

	it('bind conversation, epoch, message, sender, tag, sealed emoji and nonce', async () => {
		const key = await signingKeyOf(generateIdentity().secretKey);
		const sig = toBase64(await signBytes(key, reactionSignedBytes(fields)));
		expect(await checkBytes(reactionSignedBytes(fields), sig, [key.publicKey])).toBe('verified');
		const changes: Partial<ReactionFields>[] = [
			{ conversationId: '6f1c1f3e-0000-4000-8000-000000000002' },
			{ epoch: 3 },
			{ messageId: M2 },
			{ senderId: '6f1c1f3e-0000-4000-8000-0000000000b2' },
			{ tag: 'dGFn'.repeat(10) + 'dGI=' },
			{ emojiSealed: 'b3RoZXI=' },
			{ nonce: 'b3RoZXI=' }
		];
		for (const change of changes) {
			expect(await checkBytes(reactionSignedBytes({ ...fields, ...change }), sig, [key.publicKey])).toBe(
				'invalid'
			);
		}
		const other = await signingKeyOf(generateIdentity().secretKey);
		expect(await checkBytes(reactionSignedBytes(fields), sig, [other.publicKey])).toBe('invalid');
		expect(await checkBytes(reactionSignedBytes(fields), null, [key.publicKey])).toBe('unsigned');
	});

	it('have their own format: a reaction signature is no message signature', () => {
		const reaction = new TextDecoder().decode(reactionSignedBytes(fields));
		expect(JSON.parse(reaction)[0]).toBe('parley/reaction-signature/v1');
		const message = signedBytes({
			kind: 'message',
			conversationId: fields.conversationId,
			epoch: fields.epoch,
			clientId: null,
			messageType: 'text',
			senderId: fields.senderId,
			replyToId: null,
			nonce: fields.nonce,
			ciphertext: fields.emojiSealed,
			attachment: null
		});
		expect(JSON.parse(new TextDecoder().decode(message))[0]).not.toBe('parley/reaction-signature/v1');
	});
});
