import { describe, expect, it } from 'vitest';
import { base64UrlToBytes, pushSupported } from './subscribe.ts';

describe('push subscribe helpers', () => {
	it('decodes a base64url VAPID key to its 65 bytes', () => {
		const raw = new Uint8Array(65).map((_, i) => (i * 37 + 4) % 256);
		raw[0] = 4;
		const encoded = Buffer.from(raw).toString('base64url');
		expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
		expect([...base64UrlToBytes(encoded)]).toEqual([...raw]);
	});

	it('reports no support outside a browser', () => {
		expect(pushSupported()).toBe(false);
	});
});
