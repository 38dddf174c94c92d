import { describe, expect, it } from 'vitest';
import {
	fromBase64,
	generateIdentity,
	newConversationKey,
	openBytes,
	openText,
	publicKeyOf,
	sealBytes,
	sealText,
	toBase64,
	unwrapKey,
	wrapKey
} from './e2ee.ts';

/** Flips one bit of a base64 value. */
function flip(b64: string, index = 0): string {
	const raw = fromBase64(b64);
	raw[index] ^= 1;
	return toBase64(raw);
}

describe('base64', () => {
	it('round-trips arbitrary bytes, including large inputs', () => {
		const data = new Uint8Array(100_000).map((_, i) => (i * 31) % 256);
		expect(fromBase64(toBase64(data))).toEqual(data);
		expect(toBase64(new TextEncoder().encode('hi'))).toBe('aGk=');
	});
});

describe('identity', () => {
	it('makes distinct key pairs whose public key matches the secret key', () => {
		const a = generateIdentity();
		const b = generateIdentity();
		expect(a.publicKey).not.toBe(b.publicKey);
		expect(fromBase64(a.publicKey)).toHaveLength(32);
		expect(a.secretKey).toHaveLength(32);
		expect(publicKeyOf(a.secretKey)).toBe(a.publicKey);
	});
});

describe('sealBytes / openBytes', () => {
	it('round-trips binary attachments and refuses tampering or a wrong key', () => {
		const key = newConversationKey();
		const data = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
		const { ciphertext, nonce } = sealBytes(key, data);
		expect(ciphertext.length).toBe(data.length + 16);
		expect(openBytes(key, ciphertext, nonce)).toEqual(data);
		const tampered = ciphertext.slice();
		tampered[100] ^= 1;
		expect(openBytes(key, tampered, nonce)).toBeNull();
		expect(openBytes(newConversationKey(), ciphertext, nonce)).toBeNull();
		expect(openBytes(key, ciphertext, 'not-a-nonce')).toBeNull();
	});
});

describe('sealText / openText', () => {
	it('round-trips unicode text with a fresh nonce each time', () => {
		const key = newConversationKey();
		const text = 'Grüße 👋 — ünïcödé';
		const a = sealText(key, text);
		const b = sealText(key, text);
		expect(a.nonce).not.toBe(b.nonce);
		expect(a.ciphertext).not.toBe(b.ciphertext);
		const asLatin1 = (b: Uint8Array) => String.fromCharCode(...b);
		expect(asLatin1(fromBase64(a.ciphertext))).not.toContain(asLatin1(new TextEncoder().encode(text)));
		expect(openText(key, a.ciphertext, a.nonce)).toBe(text);
		expect(openText(toBase64(key), b.ciphertext, b.nonce)).toBe(text);
	});

	it('returns null for tampered ciphertext, a tampered nonce, a wrong key or garbage', () => {
		const key = newConversationKey();
		const { ciphertext, nonce } = sealText(key, 'secret');
		expect(openText(key, flip(ciphertext, 20), nonce)).toBeNull();
		expect(openText(key, ciphertext, flip(nonce))).toBeNull();
		expect(openText(newConversationKey(), ciphertext, nonce)).toBeNull();
		expect(openText(key, 'not base64!!', nonce)).toBeNull();
		expect(openText(key, ciphertext, toBase64(new Uint8Array(3)))).toBeNull();
	});
});

describe('wrapKey / unwrapKey', () => {
	it('lets only the recipient unwrap, given the wrapper public key', () => {
		const alice = generateIdentity();
		const bob = generateIdentity();
		const eve = generateIdentity();
		const convKey = newConversationKey();
		const w = wrapKey(convKey, bob.publicKey, alice.secretKey);
		expect(unwrapKey(w.wrapped_key, w.nonce, alice.publicKey, bob.secretKey)).toEqual(convKey);
		expect(unwrapKey(w.wrapped_key, w.nonce, alice.publicKey, eve.secretKey)).toBeNull();
		expect(unwrapKey(w.wrapped_key, w.nonce, eve.publicKey, bob.secretKey)).toBeNull();
		expect(unwrapKey(flip(w.wrapped_key, 5), w.nonce, alice.publicKey, bob.secretKey)).toBeNull();
		expect(unwrapKey(w.wrapped_key, flip(w.nonce), alice.publicKey, bob.secretKey)).toBeNull();
	});

	it('can wrap for oneself', () => {
		const me = generateIdentity();
		const convKey = newConversationKey();
		const w = wrapKey(convKey, me.publicKey, me.secretKey);
		expect(unwrapKey(w.wrapped_key, w.nonce, me.publicKey, me.secretKey)).toEqual(convKey);
	});
});
