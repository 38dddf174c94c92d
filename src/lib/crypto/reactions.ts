/**
 * Sealed reactions: the server stores and relays a reaction without learning its emoji.
 *
 * Everyone who can read a message holds the key of its epoch, so a reaction to it is sealed under
 * keys derived from that one (HKDF-SHA-256, one `info` per use, so neither key is ever the message
 * key itself and a sealed emoji can never pass for a message's ciphertext):
 *
 * - `tag` = HMAC-SHA-256(tag key, message id ‖ emoji), base64. The same person, message and emoji
 *   always give the same tag, so the server can keep one reaction per (message, user, tag) and a
 *   device can count equal reactions and take its own back; the tag of 👍 on one message tells
 *   nothing about 👍 on another, and without the key no tag can be tested against a guess.
 * - `emoji_sealed` = `nacl.secretbox` of the emoji padded with zero bytes to 64 (16 code points of
 *   up to 4 bytes), under the seal key with a fresh `nonce`: every sealed emoji is 80 bytes, so
 *   its length does not tell a 👍 from a 👨‍👩‍👧.
 * - A signature by the sender's identity (signing.ts) over conversation, epoch, message, sender,
 *   tag, sealed emoji and nonce (`reactionSignedBytes`): the key alone cannot tell which member
 *   reacted, and the server cannot move a reaction to another message or person.
 *
 * A receiver counts a reaction only when it opens, its emoji is one (`isReactionEmoji`), its tag is
 * the one that emoji gives, and its signature is the sender's.
 */
import nacl from 'tweetnacl';
import { fromBase64, toBase64 } from './e2ee.ts';

const TAG_INFO = 'parley/reaction-tag/v1';
const SEAL_INFO = 'parley/reaction-seal/v1';
const SIGNATURE_FORMAT = 'parley/reaction-signature/v1';
/** Sealed emoji are padded to this many bytes: 16 code points of at most 4 bytes each. */
export const EMOJI_PADDED_BYTES = 64;
/**
 * One to 16 code points, none of them whitespace or a control character: the rule the database
 * applied to plaintext emoji before they were sealed (JavaScript's `\s` holds every space it named).
 */
const EMOJI = /^[^\s\p{Cc}]{1,16}$/u;

const encoder = new TextEncoder();

/** Whether `emoji` may be a reaction: 1 to 16 characters without whitespace or control characters. */
export function isReactionEmoji(emoji: string): boolean {
	return EMOJI.test(emoji) && encoder.encode(emoji).length <= EMOJI_PADDED_BYTES;
}

/** The keys one epoch key gives reactions. */
export interface ReactionKeys {
	/** HMAC-SHA-256 key of the tags (not extractable). */
	tag: CryptoKey;
	/** `nacl.secretbox` key of the sealed emoji. */
	seal: Uint8Array;
}

const derived = new WeakMap<Uint8Array, Promise<ReactionKeys>>();

/** The reaction keys of an epoch key (derived once per key object). */
export function reactionKeys(epochKey: Uint8Array): Promise<ReactionKeys> {
	let keys = derived.get(epochKey);
	if (!keys) {
		keys = deriveReactionKeys(epochKey);
		derived.set(epochKey, keys);
	}
	return keys;
}

async function deriveReactionKeys(epochKey: Uint8Array): Promise<ReactionKeys> {
	const base = await crypto.subtle.importKey('raw', epochKey as Uint8Array<ArrayBuffer>, 'HKDF', false, [
		'deriveKey',
		'deriveBits'
	]);
	// The epoch key is 32 uniformly random bytes: HKDF needs no salt to extract from it.
	const params = (info: string): HkdfParams => ({
		name: 'HKDF',
		hash: 'SHA-256',
		salt: new Uint8Array(0),
		info: encoder.encode(info)
	});
	const tag = await crypto.subtle.deriveKey(
		params(TAG_INFO),
		base,
		{ name: 'HMAC', hash: 'SHA-256', length: 256 },
		false,
		['sign']
	);
	const seal = new Uint8Array(await crypto.subtle.deriveBits(params(SEAL_INFO), base, 256));
	return { tag, seal };
}

/** The base64 tag of `emoji` on `messageId`: HMAC-SHA-256 over the (lowercase) id, then the emoji. */
export async function reactionTag(keys: ReactionKeys, messageId: string, emoji: string): Promise<string> {
	const id = encoder.encode(messageId.toLowerCase());
	const text = encoder.encode(emoji);
	// A uuid is always 36 characters, so the concatenation is unambiguous.
	const input = new Uint8Array(id.length + text.length);
	input.set(id);
	input.set(text, id.length);
	return toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', keys.tag, input)));
}

/** `emoji` sealed under the seal key with a fresh nonce (throws for what is not a reaction emoji). */
export function sealEmoji(keys: ReactionKeys, emoji: string): { emoji_sealed: string; nonce: string } {
	if (!isReactionEmoji(emoji)) throw new Error('A reaction is one emoji (up to 16 characters, no spaces).');
	const padded = new Uint8Array(EMOJI_PADDED_BYTES);
	padded.set(encoder.encode(emoji));
	const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
	return { emoji_sealed: toBase64(nacl.secretbox(padded, nonce, keys.seal)), nonce: toBase64(nonce) };
}

/** The emoji of a sealed reaction; null when it does not open or holds no reaction emoji. */
export function openEmoji(keys: ReactionKeys, emojiSealed: string, nonce: string): string | null {
	let box: Uint8Array;
	let n: Uint8Array;
	try {
		box = fromBase64(emojiSealed);
		n = fromBase64(nonce);
	} catch {
		return null;
	}
	if (n.length !== nacl.secretbox.nonceLength) return null;
	const padded = nacl.secretbox.open(box, n, keys.seal);
	if (!padded || padded.length !== EMOJI_PADDED_BYTES) return null;
	const end = padded.indexOf(0);
	const length = end < 0 ? padded.length : end;
	// Zeros pad the end only (an emoji holds no NUL): anything after the first zero is tampering.
	if (padded.subarray(length).some((b) => b !== 0)) return null;
	let emoji: string;
	try {
		emoji = new TextDecoder('utf-8', { fatal: true }).decode(padded.subarray(0, length));
	} catch {
		return null;
	}
	return isReactionEmoji(emoji) ? emoji : null;
}

/** What a reaction's signature covers. */
export interface ReactionFields {
	conversationId: string;
	epoch: number;
	messageId: string;
	senderId: string;
	tag: string;
	emojiSealed: string;
	nonce: string;
}

/** The exact bytes a reaction's sender signs: a JSON array in a fixed order, with its own format. */
export function reactionSignedBytes(f: ReactionFields): Uint8Array {
	return encoder.encode(
		JSON.stringify([
			SIGNATURE_FORMAT,
			f.conversationId,
			f.epoch,
			f.messageId,
			f.senderId,
			f.tag,
			f.emojiSealed,
			f.nonce
		])
	);
}
