import { describe, expect, it } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { generateIdentity } from './e2ee.ts';
import { Keyring } from './keyring.svelte.ts';
import { deriveLocalKey } from './local-key.ts';

const seal = async (key: CryptoKey, iv: Uint8Array<ArrayBuffer>) =>
	new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode('x')));

describe('deriveLocalKey', () => {
	it('gives the same non-extractable key for the same identity and purpose, another otherwise', async () => {
		const secret = generateIdentity().secretKey;
		const iv = new Uint8Array(12);
		const a = await deriveLocalKey(secret, 'search-index:ana');
		const b = await deriveLocalKey(secret, 'search-index:ana');
		expect(a.extractable).toBe(false);
		expect(await seal(a, iv)).toEqual(await seal(b, iv));
		expect(await seal(await deriveLocalKey(secret, 'search-index:ben'), iv)).not.toEqual(await seal(a, iv));
		const other = await deriveLocalKey(generateIdentity().secretKey, 'search-index:ana');
		expect(await seal(other, iv)).not.toEqual(await seal(a, iv));
	});

	it('is only available from a key ring holding an identity', async () => {
		expect(await new Keyring(new IDBFactory()).localKey('search-index')).toBeNull();
	});
});
