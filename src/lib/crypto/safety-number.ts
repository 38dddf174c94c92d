/**
 * Safety numbers: what two people compare (read aloud, or one scans the other's QR code) to know
 * that the keys their apps use for each other are the ones the other's device holds, not keys a
 * server slipped in. Each person's half is 30 digits from an iterated SHA-512 of a version, their
 * identity (signing and box public keys) and their user id, as Signal derives its numeric
 * fingerprints; the pair is the two halves in a fixed order, so both people see the same 60 digits.
 */
import nacl from 'tweetnacl';
import { fromBase64 } from './e2ee.ts';

/** One side of a safety number: a person and the identity their profile publishes. */
export interface Party {
	userId: string;
	signingKey: string;
	publicKey: string | null;
}

const VERSION = new TextEncoder().encode('parley/safety-number/v1');
/** Iterations make guessing a colliding identity costly (Signal uses 5,200 too). */
const ITERATIONS = 5200;

function concat(...parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}

/** A person's 30 digits: six groups of five, each from five bytes of the digest (mod 100,000). */
export function fingerprint(party: Party): string {
	const identity = concat(
		fromBase64(party.signingKey),
		party.publicKey ? fromBase64(party.publicKey) : new Uint8Array()
	);
	const id = new TextEncoder().encode(party.userId);
	let hash = concat(VERSION, identity, id);
	for (let i = 0; i < ITERATIONS; i++) hash = nacl.hash(concat(hash, identity));
	let digits = '';
	for (let i = 0; i < 30; i += 5) {
		let n = 0;
		for (let j = 0; j < 5; j++) n = n * 256 + hash[i + j];
		digits += String(n % 100000).padStart(5, '0');
	}
	return digits;
}

/** The 60 digits two people compare: both halves, the lower user id's first. */
export function safetyNumber(a: Party, b: Party): string {
	const [first, second] = a.userId < b.userId ? [a, b] : [b, a];
	return fingerprint(first) + fingerprint(second);
}

/** Groups of five digits, as shown and read aloud. */
export function groupDigits(digits: string): string[] {
	return digits.match(/\d{5}/g) ?? [];
}

/** What the QR code holds: the version and the number (scanning it compares the whole number). */
export function safetyCode(a: Party, b: Party): string {
	return `parley-safety:v1:${safetyNumber(a, b)}`;
}
