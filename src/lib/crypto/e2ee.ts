/**
 * End-to-end encryption primitives for Parley, pure functions over tweetnacl.
 *
 * - Identity: one `nacl.box` key pair per user; the public key is published in `profiles.public_key`.
 * - Conversation key: 32 random bytes per membership epoch, wrapped for each member with `nacl.box`.
 * - Messages: `nacl.secretbox` under the conversation key; `{ciphertext, nonce}` travel as base64.
 *
 * Passphrase backups of the identity secret key live in backup.ts.
 *
 * Everything that is stored or sent is base64; key parameters accept bytes or base64.
 */
import nacl from 'tweetnacl';

/** Bytes or their base64 encoding. */
export type KeyInput = Uint8Array | string;

export interface Identity {
	/** base64 `nacl.box` public key, as stored in `profiles.public_key`. */
	publicKey: string;
	/** 32-byte `nacl.box` secret key; never leaves the device unencrypted. */
	secretKey: Uint8Array;
}

export interface SealedText {
	ciphertext: string;
	nonce: string;
}

export interface WrappedKey {
	wrapped_key: string;
	nonce: string;
}

/** Standard base64 of bytes (chunked so large inputs do not overflow the argument list). */
export function toBase64(bytes: Uint8Array): string {
	let binary = '';
	for (let i = 0; i < bytes.length; i += 0x8000) {
		binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
	}
	return btoa(binary);
}

/** Bytes of a standard base64 string; throws on malformed input. */
export function fromBase64(text: string): Uint8Array {
	const binary = atob(text);
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}

function bytes(input: KeyInput): Uint8Array {
	return typeof input === 'string' ? fromBase64(input) : input;
}

/** Decodes base64 that came from outside; null instead of throwing when it is malformed. */
function tryBytes(input: KeyInput): Uint8Array | null {
	try {
		return bytes(input);
	} catch {
		return null;
	}
}

/** A fresh identity key pair. */
export function generateIdentity(): Identity {
	const pair = nacl.box.keyPair();
	return { publicKey: toBase64(pair.publicKey), secretKey: pair.secretKey };
}

/** The base64 public key that belongs to a secret key (to check a restored key against the profile). */
export function publicKeyOf(secretKey: KeyInput): string {
	return toBase64(nacl.box.keyPair.fromSecretKey(bytes(secretKey)).publicKey);
}

/** A fresh 32-byte conversation key. */
export function newConversationKey(): Uint8Array {
	return nacl.randomBytes(nacl.secretbox.keyLength);
}

/** Encrypts UTF-8 text under a conversation key with a fresh random nonce. */
export function sealText(key: KeyInput, plaintext: string): SealedText {
	const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
	const box = nacl.secretbox(new TextEncoder().encode(plaintext), nonce, bytes(key));
	return { ciphertext: toBase64(box), nonce: toBase64(nonce) };
}

/** Decrypts text sealed by `sealText`; null when the key is wrong or the data was tampered with. */
export function openText(key: KeyInput, ciphertext: string, nonce: string): string | null {
	const k = tryBytes(key);
	const box = tryBytes(ciphertext);
	const n = tryBytes(nonce);
	if (!k || !box || !n) return null;
	if (k.length !== nacl.secretbox.keyLength || n.length !== nacl.secretbox.nonceLength) return null;
	const opened = nacl.secretbox.open(box, n, k);
	if (!opened) return null;
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(opened);
	} catch {
		return null;
	}
}

/** Encrypts bytes (an attachment) under a conversation key with a fresh random nonce. */
export function sealBytes(key: KeyInput, data: Uint8Array): { ciphertext: Uint8Array; nonce: string } {
	const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
	return { ciphertext: nacl.secretbox(data, nonce, bytes(key)), nonce: toBase64(nonce) };
}

/** Decrypts bytes sealed by `sealBytes`; null when the key is wrong or the data was tampered with. */
export function openBytes(key: KeyInput, ciphertext: Uint8Array, nonce: string): Uint8Array | null {
	const k = tryBytes(key);
	const n = tryBytes(nonce);
	if (!k || !n || k.length !== nacl.secretbox.keyLength || n.length !== nacl.secretbox.nonceLength)
		return null;
	return nacl.secretbox.open(ciphertext, n, k);
}

/** Wraps a conversation key for one recipient (`nacl.box` from my secret key to their public key). */
export function wrapKey(convKey: KeyInput, recipientPublicKey: KeyInput, mySecretKey: KeyInput): WrappedKey {
	const nonce = nacl.randomBytes(nacl.box.nonceLength);
	const box = nacl.box(bytes(convKey), nonce, bytes(recipientPublicKey), bytes(mySecretKey));
	return { wrapped_key: toBase64(box), nonce: toBase64(nonce) };
}

/** Unwraps a conversation key wrapped for me by `wrapperPublicKey`'s owner; null when it does not open. */
export function unwrapKey(
	wrapped_key: string,
	nonce: string,
	wrapperPublicKey: KeyInput,
	mySecretKey: KeyInput
): Uint8Array | null {
	const box = tryBytes(wrapped_key);
	const n = tryBytes(nonce);
	const pub = tryBytes(wrapperPublicKey);
	const sec = tryBytes(mySecretKey);
	if (!box || !n || !pub || !sec) return null;
	if (n.length !== nacl.box.nonceLength || pub.length !== nacl.box.publicKeyLength) return null;
	if (sec.length !== nacl.box.secretKeyLength) return null;
	const key = nacl.box.open(box, n, pub, sec);
	return key && key.length === nacl.secretbox.keyLength ? key : null;
}
