import { describe, expect, it } from 'vitest';
import { generateIdentity } from './e2ee.ts';
import { fingerprint, groupDigits, safetyCode, safetyNumber, type Party } from './safety-number.ts';
import { signingPublicKeyOf } from './signing.ts';

function party(userId: string): Party {
	const id = generateIdentity();
	return { userId, signingKey: signingPublicKeyOf(id.secretKey), publicKey: id.publicKey };
}

const zeros = (fill: number) => Buffer.alloc(32, fill).toString('base64');

describe('safety numbers', () => {
	it('is the same 60 digits for both people, in twelve groups of five', () => {
		const ana = party('a-user');
		const ben = party('b-user');
		const number = safetyNumber(ana, ben);
		expect(number).toMatch(/^\d{60}$/);
		expect(safetyNumber(ben, ana)).toBe(number);
		expect(groupDigits(number)).toHaveLength(12);
		expect(safetyCode(ana, ben)).toBe(`parley-safety:v1:${number}`);
	});

	it('changes with either identity key or the user id, and is stable for the same inputs', () => {
		const fixed: Party = { userId: 'u1', signingKey: zeros(1), publicKey: zeros(2) };
		// Pinned (computed independently with Python's hashlib): a change to the derivation would
		// silently break every verification people have done.
		expect(fingerprint(fixed)).toBe('304003045350288368120368300100');
		expect(fingerprint({ ...fixed, signingKey: zeros(3) })).not.toBe(fingerprint(fixed));
		expect(fingerprint({ ...fixed, publicKey: zeros(3) })).not.toBe(fingerprint(fixed));
		expect(fingerprint({ ...fixed, userId: 'u2' })).not.toBe(fingerprint(fixed));
		const ben = party('u9');
		expect(safetyNumber(fixed, ben).slice(0, 30)).toBe(fingerprint(fixed));
		expect(safetyNumber(fixed, ben).slice(30)).toBe(fingerprint(ben));
	});
});
