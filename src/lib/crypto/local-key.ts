/**
 * Keys for what this device keeps sealed at rest (the search index, search/sealed-store.ts):
 * AES-GCM keys derived with HKDF-SHA-256 from the identity secret, one per purpose and user, and
 * never extractable (script can use them, not read them out). They exist only while the key ring
 * holds the identity, and change with it: a reset identity cannot open what the old one sealed.
 */

const SALT = new TextEncoder().encode('parley local key v1');

/** The non-extractable AES-GCM-256 key for `info` (e.g. `search-index:<userId>`). */
export async function deriveLocalKey(secret: Uint8Array, info: string): Promise<CryptoKey> {
	const base = await crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, 'HKDF', false, [
		'deriveKey'
	]);
	return crypto.subtle.deriveKey(
		{ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: new TextEncoder().encode(info) },
		base,
		{ name: 'AES-GCM', length: 256 },
		false,
		['encrypt', 'decrypt']
	);
}
