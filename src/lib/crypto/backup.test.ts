import { argon2id } from 'hash-wasm';
import { describe, expect, it, vi } from 'vitest';
import {
	ARGON2_BOUNDS,
	ARGON2_PARAMS,
	MIN_PBKDF2_ITERATIONS,
	backupNeedsReseal,
	decryptBackup,
	encryptBackup
} from './backup.ts';
import { fromBase64, generateIdentity, publicKeyOf, toBase64 } from './e2ee.ts';
import { V1_BACKUP } from './testing/v1-backup.ts';

// The real Argon2id, watched: a refused document must not cost a derivation.
vi.mock('hash-wasm', async (original) => {
	const real = await original<typeof import('hash-wasm')>();
	return { ...real, argon2id: vi.fn(real.argon2id) };
});
const derivations = () => vi.mocked(argon2id).mock.calls.length;

/** Flips one bit of a base64 value. */
function flip(b64: string, index = 0): string {
	const raw = fromBase64(b64);
	raw[index] ^= 1;
	return toBase64(raw);
}

/** The cheapest setting the bounds accept (OWASP's 19 MiB × 2), to keep the tests quick. */
const LIGHT = { memoryKiB: ARGON2_BOUNDS.minMemoryKiB, iterations: 2 };

describe('Argon2id (hash-wasm)', () => {
	// The Argon2id v0x13 known answers of the reference implementation (P-H-C/phc-winner-argon2,
	// src/test.c, "Test Argon2id version number: 13"): password "password", salt "somesalt", 32
	// bytes. RFC 9106 §5.3's vector also needs associated data, which hash-wasm does not take.
	it.each([
		[2, 256, 1, '9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe'],
		[2, 256, 2, '6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037'],
		[2, 65536, 1, '09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7']
	])('matches the reference vector t=%i m=%i KiB p=%i', async (t, m, p, expected) => {
		const hex = await argon2id({
			password: 'password',
			salt: 'somesalt',
			iterations: t,
			memorySize: m,
			parallelism: p,
			hashLength: 32,
			outputType: 'hex'
		});
		expect(hex).toBe(expected);
	});
});

describe('key backup v2 (Argon2id)', () => {
	it('seals with the recorded default parameters and opens with the right passphrase only', async () => {
		const me = generateIdentity();
		const backup = await encryptBackup(me.secretKey, 'correct horse battery staple');
		expect(backup).toMatchObject({ v: 2, kdf: 'argon2id', ...ARGON2_PARAMS });
		expect(ARGON2_PARAMS).toEqual({ memoryKiB: 65536, iterations: 3, parallelism: 1, hashLength: 32 });
		expect(fromBase64(backup.salt)).toHaveLength(16);
		expect(JSON.stringify(backup)).not.toContain(toBase64(me.secretKey));
		// key_backups checks: a JSON object of at most 16 KiB.
		expect(new TextEncoder().encode(JSON.stringify(backup)).length).toBeLessThan(1024);
		expect(backupNeedsReseal(backup)).toBe(false);

		const restored = await decryptBackup(backup, 'correct horse battery staple');
		expect(restored).toEqual(me.secretKey);
		expect(publicKeyOf(restored!)).toBe(me.publicKey);
		expect(await decryptBackup(backup, 'correct horse battery stapler')).toBeNull();
	});

	it('normalizes the passphrase (NFKC), so a composed and a decomposed é both open it', async () => {
		const me = generateIdentity();
		const backup = await encryptBackup(me.secretKey, 'caf\u00e9 au lait', LIGHT);
		expect(await decryptBackup(backup, 'cafe\u0301 au lait')).toEqual(me.secretKey);
	});

	it('refuses out-of-bounds, tampered or malformed documents, before deriving anything', async () => {
		const me = generateIdentity();
		const backup = await encryptBackup(me.secretKey, 'pw-123456', LIGHT);
		expect(await decryptBackup(backup, 'pw-123456')).toEqual(me.secretKey);
		expect(backupNeedsReseal(backup)).toBe(true); // lighter than today's default

		const forged: Record<string, unknown>[] = [
			{ memoryKiB: 8 }, // weak
			{ memoryKiB: ARGON2_BOUNDS.minMemoryKiB - 1 },
			{ memoryKiB: 4 * 1024 * 1024 }, // 4 GiB
			{ memoryKiB: ARGON2_BOUNDS.minMemoryKiB, iterations: 1 }, // memory × passes below the floor
			{ memoryKiB: ARGON2_BOUNDS.maxMemoryKiB, iterations: 10 }, // above the work ceiling
			{ iterations: 0 },
			{ iterations: 1_000_000 },
			{ iterations: 2.5 },
			{ iterations: '2' },
			{ parallelism: 0 },
			{ parallelism: 64 },
			{ hashLength: 16 },
			{ hashLength: 64 },
			{ memoryKiB: undefined },
			{ salt: toBase64(new Uint8Array(8)) },
			{ salt: toBase64(new Uint8Array(65)) },
			{ kdf: 'PBKDF2-SHA-256' },
			{ kdf: 'argon2i' },
			{ v: 3 },
			{ nonce: '%%%' },
			{ nonce: toBase64(new Uint8Array(12)) },
			{ ciphertext: toBase64(new Uint8Array(80)) },
			{ ciphertext: 42 }
		];
		const before = derivations();
		for (const change of forged) {
			expect(await decryptBackup({ ...backup, ...change }, 'pw-123456'), JSON.stringify(change)).toBeNull();
		}
		for (const junk of [null, undefined, 'backup', 7, [], {}])
			expect(await decryptBackup(junk, 'pw')).toBeNull();
		expect(derivations()).toBe(before);

		// Tampering that stays within bounds derives another key, which does not open the box.
		expect(await decryptBackup({ ...backup, iterations: 3 }, 'pw-123456')).toBeNull();
		expect(await decryptBackup({ ...backup, parallelism: 2 }, 'pw-123456')).toBeNull();
		expect(await decryptBackup({ ...backup, salt: flip(backup.salt) }, 'pw-123456')).toBeNull();
		expect(
			await decryptBackup({ ...backup, ciphertext: flip(backup.ciphertext, 3) }, 'pw-123456')
		).toBeNull();
		expect(derivations()).toBe(before + 4);
	});

	it('refuses to write a backup with parameters it would not open', async () => {
		const me = generateIdentity();
		await expect(encryptBackup(me.secretKey, 'pw-123456', { memoryKiB: 1024 })).rejects.toThrow(/bounds/);
		await expect(encryptBackup(me.secretKey, 'pw-123456', { hashLength: 16 })).rejects.toThrow(/bounds/);
		await expect(encryptBackup(new Uint8Array(8), 'pw-123456', LIGHT)).rejects.toThrow(/secret key/);
	});
});

describe('key backup v1 (PBKDF2)', () => {
	it('still opens a backup the PBKDF2 code wrote, and says it needs sealing again', async () => {
		const { backup, passphrase, secretKey, publicKey } = V1_BACKUP;
		const restored = await decryptBackup(backup, passphrase);
		expect(restored && toBase64(restored)).toBe(secretKey);
		expect(publicKeyOf(restored!)).toBe(publicKey);
		expect(await decryptBackup(backup, 'correct horse battery stapler')).toBeNull();
		expect(backupNeedsReseal(backup)).toBe(true);
	});

	it('refuses weakened, oversized or tampered v1 documents', async () => {
		const { backup, passphrase } = V1_BACKUP;
		expect(MIN_PBKDF2_ITERATIONS).toBeGreaterThanOrEqual(310_000);
		expect(await decryptBackup({ ...backup, iterations: 1000 }, passphrase)).toBeNull();
		expect(await decryptBackup({ ...backup, iterations: 1e9 }, passphrase)).toBeNull();
		expect(await decryptBackup({ ...backup, ciphertext: flip(backup.ciphertext, 3) }, passphrase)).toBeNull();
		expect(await decryptBackup({ ...backup, nonce: '%%%' }, passphrase)).toBeNull();
		expect(await decryptBackup({ ...backup, kdf: 'argon2id' }, passphrase)).toBeNull();
	});
});
