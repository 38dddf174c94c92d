/**
 * Message signatures: every message and edit carries an Ed25519 signature by its sender's device,
 * over the fields a forger or a relabelling server would change (conversation, key epoch, client id,
 * kind, message type, sender, reply, ciphertext, nonce and the attachment it names). Everyone in a
 * conversation holds its key, so the key alone cannot tell who wrote a message; the signature can.
 *
 * The signing key pair is derived from the identity secret key (a domain-separated SHA-512 of it is
 * the Ed25519 seed), so a backup of the identity restores the signing key too and nothing new has to
 * leave the device. Signing and verifying use WebCrypto's Ed25519 (native: ~0.1 ms, where tweetnacl
 * takes ~5 ms to verify); tweetnacl only turns the seed into its public key, once per device.
 */
import nacl from 'tweetnacl';
import { fromBase64, toBase64, type KeyInput } from './e2ee.ts';

/** What a signature covers. `kind` tells a first send from an edit, so one cannot pass for the other. */
export interface SignedFields {
	kind: 'message' | 'edit';
	conversationId: string;
	epoch: number;
	clientId: string | null;
	messageType: string;
	senderId: string;
	replyToId: string | null;
	nonce: string;
	ciphertext: string;
	attachment: { path: string; nonce: string; epoch: number; size: number } | null;
}

/** What a receiver concluded about a message's author. */
export type SignatureCheck = 'verified' | 'unsigned' | 'invalid';

export interface SigningKey {
	/** base64 Ed25519 public key, as published in `profiles.signing_key`. */
	publicKey: string;
	/** The WebCrypto private key (not extractable). */
	privateKey: CryptoKey;
}

const SEED_LABEL = new TextEncoder().encode('parley/signing-seed/v1');
const FORMAT = 'parley/message-signature/v1';
/** PKCS #8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): this prefix, then the seed. */
const PKCS8_PREFIX = Uint8Array.from([
	0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20
]);

function bytesOf(input: KeyInput): Uint8Array {
	return typeof input === 'string' ? fromBase64(input) : input;
}

/** The Ed25519 seed of an identity: the first half of SHA-512(label ‖ identity secret key). */
export function signingSeed(identitySecret: KeyInput): Uint8Array {
	const secret = bytesOf(identitySecret);
	const input = new Uint8Array(SEED_LABEL.length + secret.length);
	input.set(SEED_LABEL);
	input.set(secret, SEED_LABEL.length);
	return nacl.hash(input).subarray(0, 32);
}

/** The base64 signing public key of an identity (what its profile should publish). */
export function signingPublicKeyOf(identitySecret: KeyInput): string {
	return toBase64(nacl.sign.keyPair.fromSeed(signingSeed(identitySecret)).publicKey);
}

/** The signing key of an identity, ready for WebCrypto. */
export function signingKeyOf(identitySecret: KeyInput): Promise<SigningKey> {
	return signingKeyFromSeed(signingSeed(identitySecret));
}

/** An Ed25519 key pair from its 32-byte seed (RFC 8032's "secret key"). */
export async function signingKeyFromSeed(seed: Uint8Array): Promise<SigningKey> {
	const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + seed.length);
	pkcs8.set(PKCS8_PREFIX);
	pkcs8.set(seed, PKCS8_PREFIX.length);
	const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
	return { publicKey: toBase64(nacl.sign.keyPair.fromSeed(seed).publicKey), privateKey };
}

/** The exact bytes signed: a JSON array in a fixed order (unambiguous, the same on every device). */
export function signedBytes(f: SignedFields): Uint8Array {
	const a = f.attachment;
	return new TextEncoder().encode(
		JSON.stringify([
			FORMAT,
			f.kind,
			f.conversationId,
			f.epoch,
			f.clientId,
			f.messageType,
			f.senderId,
			f.replyToId,
			f.nonce,
			f.ciphertext,
			a ? [a.path, a.nonce, a.epoch, a.size] : null
		])
	);
}

/** The 64-byte Ed25519 signature of raw bytes. */
export async function signBytes(key: SigningKey, bytes: Uint8Array): Promise<Uint8Array> {
	const data = bytes as Uint8Array<ArrayBuffer>;
	return new Uint8Array(await crypto.subtle.sign('Ed25519', key.privateKey, data));
}

/** The base64 detached signature of `fields`. */
export async function signFields(key: SigningKey, fields: SignedFields): Promise<string> {
	return toBase64(await signBytes(key, signedBytes(fields)));
}

const imported = new Map<string, Promise<CryptoKey | null>>();

/** A published signing key as a WebCrypto key (cached); null when it is malformed. */
function verifyingKey(publicKey: string): Promise<CryptoKey | null> {
	let key = imported.get(publicKey);
	if (!key) {
		key = (async () => {
			try {
				const raw = fromBase64(publicKey) as Uint8Array<ArrayBuffer>;
				if (raw.length !== 32) return null;
				return await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
			} catch {
				return null;
			}
		})();
		imported.set(publicKey, key);
	}
	return key;
}

/**
 * Whether `signature` over `fields` was made by one of `publicKeys` (a sender's current and earlier
 * signing keys): `unsigned` without a signature, `invalid` when none of the keys made it.
 */
export function checkSignature(
	fields: SignedFields,
	signature: string | null | undefined,
	publicKeys: readonly string[]
): Promise<SignatureCheck> {
	return checkBytes(signedBytes(fields), signature, publicKeys);
}

/** Whether `signature` over raw `bytes` was made by one of `publicKeys`. */
export async function checkBytes(
	bytes: Uint8Array,
	signature: string | null | undefined,
	publicKeys: readonly string[]
): Promise<SignatureCheck> {
	if (!signature) return 'unsigned';
	let sig: Uint8Array;
	try {
		sig = fromBase64(signature);
	} catch {
		return 'invalid';
	}
	if (sig.length !== 64) return 'invalid';
	const data = bytes as Uint8Array<ArrayBuffer>;
	for (const publicKey of publicKeys) {
		const key = await verifyingKey(publicKey);
		if (key && (await crypto.subtle.verify('Ed25519', key, sig as Uint8Array<ArrayBuffer>, data)))
			return 'verified';
	}
	return 'invalid';
}
