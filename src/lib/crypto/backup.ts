/**
 * Key backups: the identity secret key sealed under a passphrase, as `key_backups.backup` stores
 * it — the only form in which a secret key ever leaves the device. This module owns that document:
 * its versions, the passphrase key derivation of each, and the bounds a stored document must keep
 * before we do any work for it. The key ring (keyring.svelte.ts) decides when to make, restore and
 * upgrade a backup; this module only seals and opens one.
 *
 * - v2 (what we write): Argon2id (RFC 9106, version 0x13) through hash-wasm's WebAssembly build,
 *   with its parameters (memory, passes, lanes, salt, output length) in the document.
 * - v1 (read only): PBKDF2-HMAC-SHA-256 from WebCrypto. A restored v1 backup is sealed again as v2.
 *
 * Either way the derived 32-byte key seals the secret key with `nacl.secretbox`. The document comes
 * from the server, so it is untrusted: parameters outside the bounds below make it unopenable
 * (null) rather than making us derive for minutes, allocate gigabytes, or accept a weak setting
 * an attacker chose to make guessing the passphrase cheap.
 */
import { argon2id } from 'hash-wasm';
import nacl from 'tweetnacl';
import { fromBase64, toBase64, type KeyInput } from './e2ee.ts';

/** The Argon2id parameters a v2 backup records. */
export interface Argon2Params {
	/** Memory in KiB (Argon2's m). */
	memoryKiB: number;
	/** Passes over the memory (Argon2's t). */
	iterations: number;
	/** Lanes (Argon2's p). */
	parallelism: number;
	/** Output length in bytes: the secretbox key length. */
	hashLength: number;
}

/** A v2 `key_backups.backup` document (what `encryptBackup` writes). */
export interface KeyBackupV2 extends Argon2Params {
	v: 2;
	kdf: 'argon2id';
	salt: string;
	nonce: string;
	ciphertext: string;
}

/** A v1 `key_backups.backup` document (PBKDF2), still opened, no longer written. */
export interface KeyBackupV1 {
	v: 1;
	kdf: 'PBKDF2-SHA-256';
	salt: string;
	iterations: number;
	nonce: string;
	ciphertext: string;
}

/** Any `key_backups.backup` document we can open. */
export type KeyBackup = KeyBackupV1 | KeyBackupV2;

/**
 * What new backups use: 64 MiB, 3 passes, 1 lane. This is RFC 9106's second recommended option
 * (§4: "t=3, 64 MiB", for environments where 2 GiB is too much — a browser tab on a phone is one),
 * and above every OWASP Password Storage Cheat Sheet Argon2id setting (whose floor is 19 MiB, 2
 * passes). RFC 9106 pairs it with 4 lanes; we use 1 because hash-wasm runs the lanes one after the
 * other in a single thread, so more lanes would not make our derivation faster, only an attacker's
 * on parallel hardware. About half a second on a laptop; a restore or a backup does it once.
 */
export const ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({
	memoryKiB: 64 * 1024,
	iterations: 3,
	parallelism: 1,
	hashLength: nacl.secretbox.keyLength
});

/**
 * What a v2 document may claim. The floors refuse settings weaker than OWASP's (19 MiB, and at
 * least the memory × passes of its 19 MiB × 2 option, which admits its 46 MiB × 1 option too); the
 * ceilings bound the work a forged document can make us do (256 MiB, and 4× our default's
 * memory × passes, a few seconds at most).
 */
export const ARGON2_BOUNDS = Object.freeze({
	minMemoryKiB: 19 * 1024,
	maxMemoryKiB: 256 * 1024,
	minIterations: 1,
	maxIterations: 10,
	minCost: 19 * 1024 * 2,
	maxCost: 4 * ARGON2_PARAMS.memoryKiB * ARGON2_PARAMS.iterations,
	minParallelism: 1,
	maxParallelism: 4,
	minSaltBytes: 16,
	maxSaltBytes: 64
});

/** v1: backups claiming fewer PBKDF2 iterations (OWASP's old floor) are refused. */
export const MIN_PBKDF2_ITERATIONS = 310_000;
/** v1: bounds the work a forged v1 backup can make us do. */
const MAX_PBKDF2_ITERATIONS = 10_000_000;

/** A sealed identity secret key: the key itself plus secretbox's 16-byte authenticator. */
const SEALED_LENGTH = nacl.box.secretKeyLength + nacl.secretbox.overheadLength;

const inRange = (value: unknown, min: number, max: number): value is number =>
	Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;

/** Whether Argon2id parameters are ones we both accept as strong enough and agree to compute. */
export function argon2ParamsAcceptable(p: Partial<Argon2Params>): p is Argon2Params {
	const b = ARGON2_BOUNDS;
	return (
		inRange(p.memoryKiB, b.minMemoryKiB, b.maxMemoryKiB) &&
		inRange(p.iterations, b.minIterations, b.maxIterations) &&
		inRange(p.parallelism, b.minParallelism, b.maxParallelism) &&
		p.hashLength === nacl.secretbox.keyLength &&
		inRange(p.memoryKiB * p.iterations, b.minCost, b.maxCost)
	);
}

/** The passphrase as the KDFs take it: NFKC, so the same words typed on another keyboard match. */
function passphraseBytes(passphrase: string): Uint8Array {
	return new TextEncoder().encode(passphrase.normalize('NFKC'));
}

function tryBytes(text: unknown): Uint8Array | null {
	if (typeof text !== 'string') return null;
	try {
		return fromBase64(text);
	} catch {
		return null;
	}
}

function argon2Key(passphrase: string, salt: Uint8Array, p: Argon2Params): Promise<Uint8Array> {
	return argon2id({
		password: passphraseBytes(passphrase),
		salt,
		memorySize: p.memoryKiB,
		iterations: p.iterations,
		parallelism: p.parallelism,
		hashLength: p.hashLength,
		outputType: 'binary'
	});
}

async function pbkdf2Key(passphrase: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
	const material = await crypto.subtle.importKey(
		'raw',
		passphraseBytes(passphrase) as Uint8Array<ArrayBuffer>,
		'PBKDF2',
		false,
		['deriveBits']
	);
	const bits = await crypto.subtle.deriveBits(
		{ name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations },
		material,
		nacl.secretbox.keyLength * 8
	);
	return new Uint8Array(bits);
}

/** Seals an identity secret key under a passphrase as a v2 (Argon2id) backup. */
export async function encryptBackup(
	secretKey: KeyInput,
	passphrase: string,
	params: Partial<Argon2Params> = {}
): Promise<KeyBackupV2> {
	const p = { ...ARGON2_PARAMS, ...params };
	if (!argon2ParamsAcceptable(p))
		throw new Error('These Argon2id parameters are outside the accepted bounds');
	const key = typeof secretKey === 'string' ? fromBase64(secretKey) : secretKey;
	if (key.length !== nacl.box.secretKeyLength) throw new Error('Not an identity secret key');
	const salt = nacl.randomBytes(16);
	const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
	const ciphertext = nacl.secretbox(key, nonce, await argon2Key(passphrase, salt, p));
	return {
		v: 2,
		kdf: 'argon2id',
		memoryKiB: p.memoryKiB,
		iterations: p.iterations,
		parallelism: p.parallelism,
		hashLength: p.hashLength,
		salt: toBase64(salt),
		nonce: toBase64(nonce),
		ciphertext: toBase64(ciphertext)
	};
}

/**
 * Opens a backup of either version: the secret key, or null for a wrong passphrase or a malformed,
 * weakened, oversized or tampered document. Everything is checked before the key is derived.
 */
export async function decryptBackup(backup: unknown, passphrase: string): Promise<Uint8Array | null> {
	if (!backup || typeof backup !== 'object') return null;
	const doc = backup as Record<string, unknown>;
	const nonce = tryBytes(doc.nonce);
	const box = tryBytes(doc.ciphertext);
	const salt = tryBytes(doc.salt);
	if (!nonce || !box || !salt) return null;
	if (nonce.length !== nacl.secretbox.nonceLength || box.length !== SEALED_LENGTH) return null;

	let key: Uint8Array;
	if (doc.v === 2 && doc.kdf === 'argon2id') {
		const params = {
			memoryKiB: doc.memoryKiB,
			iterations: doc.iterations,
			parallelism: doc.parallelism,
			hashLength: doc.hashLength
		} as Partial<Argon2Params>;
		if (!argon2ParamsAcceptable(params)) return null;
		if (salt.length < ARGON2_BOUNDS.minSaltBytes || salt.length > ARGON2_BOUNDS.maxSaltBytes) return null;
		key = await argon2Key(passphrase, salt, params);
	} else if (doc.v === 1 && doc.kdf === 'PBKDF2-SHA-256') {
		if (!inRange(doc.iterations, MIN_PBKDF2_ITERATIONS, MAX_PBKDF2_ITERATIONS)) return null;
		key = await pbkdf2Key(passphrase, salt, doc.iterations);
	} else {
		return null;
	}
	return nacl.secretbox.open(box, nonce, key);
}

/**
 * Whether a backup that opened should be sealed again with today's setting: every v1 (PBKDF2)
 * backup, and a v2 one made with less memory or fewer passes than we use now.
 */
export function backupNeedsReseal(backup: KeyBackup): boolean {
	if (backup.v !== 2) return true;
	return backup.memoryKiB < ARGON2_PARAMS.memoryKiB || backup.iterations < ARGON2_PARAMS.iterations;
}
