import { describe, expect, test } from 'vitest';
import { JwtError, signJwt, verifyJwt } from './jwt.ts';

const SECRET = 'a-test-secret-of-at-least-thirty-two-chars';

describe('verifyJwt', () => {
	test('a verified token stays valid until its exp, then is refused even when remembered', async () => {
		// At least a second away, so the first checks are not racing the clock.
		const exp = Math.ceil((Date.now() + 1000) / 1000);
		const token = await signJwt({ sub: 'u1', role: 'authenticated', exp }, SECRET);
		expect(await verifyJwt(token, SECRET)).toMatchObject({ sub: 'u1', exp });
		expect(await verifyJwt(token, SECRET)).toMatchObject({ sub: 'u1' });
		await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
		await expect(verifyJwt(token, SECRET)).rejects.toMatchObject({ reason: 'expired' });
		await expect(verifyJwt(token, SECRET)).rejects.toBeInstanceOf(JwtError);
	});

	test('a remembered token is not valid for another secret; tampering and alg none are refused', async () => {
		const token = await signJwt({ sub: 'u2', role: 'authenticated' }, SECRET);
		await verifyJwt(token, SECRET);
		await expect(verifyJwt(token, `${SECRET}-other`)).rejects.toMatchObject({ reason: 'invalid' });
		const [header, payload, signature] = token.split('.');
		const forged = Buffer.from(JSON.stringify({ sub: 'admin', role: 'service_role' })).toString('base64url');
		await expect(verifyJwt(`${header}.${forged}.${signature}`, SECRET)).rejects.toMatchObject({
			reason: 'invalid'
		});
		const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
		await expect(verifyJwt(`${none}.${payload}.`, SECRET)).rejects.toMatchObject({ reason: 'invalid' });
	});

	test('callers get their own copy of the claims', async () => {
		const token = await signJwt({ sub: 'u3', role: 'authenticated' }, SECRET);
		const first = await verifyJwt(token, SECRET);
		first.role = 'service_role';
		expect((await verifyJwt(token, SECRET)).role).toBe('authenticated');
	});
});
