import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { fromBase64, generateIdentity, toBase64 } from './e2ee.ts';
import {
	checkSignature,
	signBytes,
	signedBytes,
	signFields,
	signingKeyFromSeed,
	signingKeyOf,
	signingPublicKeyOf,
	type SignedFields
} from './signing.ts';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

const fields: SignedFields = {
	kind: 'message',
	conversationId: '6f1c1f3e-0000-4000-8000-000000000001',
	epoch: 3,
	clientId: '6f1c1f3e-0000-4000-8000-0000000000c1',
	messageType: 'text',
	senderId: '6f1c1f3e-0000-4000-8000-0000000000a1',
	replyToId: null,
	nonce: 'bm9uY2U=',
	ciphertext: 'Y2lwaGVydGV4dA==',
	attachment: null
};

describe('signing', () => {
	it('matches RFC 8032 test vectors 1 and 2 (Ed25519 through WebCrypto)', async () => {
		const one = await signingKeyFromSeed(
			hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
		);
		expect(toHex(fromBase64(one.publicKey))).toBe(
			'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
		);
		expect(toHex(await signBytes(one, new Uint8Array()))).toBe(
			'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
		);
		const two = await signingKeyFromSeed(
			hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb')
		);
		expect(toHex(await signBytes(two, hex('72')))).toBe(
			'92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
		);
	});

	it('derives one signing key per identity, published and private halves agreeing', async () => {
		const id = generateIdentity();
		const key = await signingKeyOf(id.secretKey);
		expect(key.publicKey).toBe(signingPublicKeyOf(id.secretKey));
		expect(signingPublicKeyOf(generateIdentity().secretKey)).not.toBe(key.publicKey);
		// The seed is not the identity key itself: the signing key reveals nothing about it.
		expect(key.publicKey).not.toBe(toBase64(nacl.sign.keyPair.fromSeed(id.secretKey).publicKey));
	});

	it('verifies what its sender signed, under any of the keys it was given', async () => {
		const key = await signingKeyOf(generateIdentity().secretKey);
		const sig = await signFields(key, fields);
		expect(await checkSignature(fields, sig, [key.publicKey])).toBe('verified');
		const older = signingPublicKeyOf(generateIdentity().secretKey);
		expect(await checkSignature(fields, sig, [older, key.publicKey])).toBe('verified');
	});

	it('flags a change to any signed field, another signer, and a missing or malformed signature', async () => {
		const key = await signingKeyOf(generateIdentity().secretKey);
		const sig = await signFields(key, fields);
		const changes: Partial<SignedFields>[] = [
			{ kind: 'edit' },
			{ conversationId: '6f1c1f3e-0000-4000-8000-000000000002' },
			{ epoch: 4 },
			{ clientId: null },
			{ messageType: 'image' },
			{ senderId: '6f1c1f3e-0000-4000-8000-0000000000b2' },
			{ replyToId: '6f1c1f3e-0000-4000-8000-0000000000d1' },
			{ nonce: 'b3RoZXI=' },
			{ ciphertext: 'b3RoZXI=' },
			{ attachment: { path: 'a/b', nonce: 'bg==', epoch: 3, size: 1 } }
		];
		for (const change of changes) {
			expect(await checkSignature({ ...fields, ...change }, sig, [key.publicKey])).toBe('invalid');
		}
		const other = await signingKeyOf(generateIdentity().secretKey);
		expect(await checkSignature(fields, sig, [other.publicKey])).toBe('invalid');
		expect(await checkSignature(fields, null, [key.publicKey])).toBe('unsigned');
		expect(await checkSignature(fields, 'not base64!', [key.publicKey])).toBe('invalid');
		expect(await checkSignature(fields, toBase64(new Uint8Array(10)), [key.publicKey])).toBe('invalid');
		expect(await checkSignature(fields, sig, ['AAAA'])).toBe('invalid');
		expect(await checkSignature(fields, sig, [])).toBe('invalid');
	});

	it('signs an unambiguous encoding: moving text between fields changes the bytes', () => {
		const a = signedBytes({ ...fields, nonce: 'ab', ciphertext: 'c' });
		const b = signedBytes({ ...fields, nonce: 'a', ciphertext: 'bc' });
		expect(toBase64(a)).not.toBe(toBase64(b));
	});
});
