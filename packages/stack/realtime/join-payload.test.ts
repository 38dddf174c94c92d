import { describe, expect, test } from 'vitest';
import { accessTokenOf, decodeJoin } from './join-payload.ts';

describe('phx_join payloads', () => {
	test('a realtime-js join reads as sent', () => {
		const binding = { event: '*', schema: 'public', table: 'items' };
		expect(
			decodeJoin({
				config: {
					broadcast: { self: true, ack: true },
					presence: { enabled: true, key: 'me' },
					private: true,
					postgres_changes: [binding, 'not a binding']
				},
				access_token: 'header.payload.signature'
			})
		).toEqual({
			config: {
				private: true,
				broadcast: { self: true, ack: true },
				presence: { enabled: true, key: 'me' },
				postgresChanges: [binding]
			},
			accessToken: 'header.payload.signature'
		});
	});

	test('anything missing or of another type reads as its default', () => {
		const defaults = {
			config: {
				private: false,
				broadcast: { self: false, ack: false },
				presence: { enabled: false, key: null },
				postgresChanges: []
			},
			accessToken: null
		};
		expect(decodeJoin(undefined)).toEqual(defaults);
		expect(decodeJoin([])).toEqual(defaults);
		expect(
			decodeJoin({
				config: {
					broadcast: 'yes',
					presence: { enabled: 'true', key: '' },
					private: 1,
					postgres_changes: {}
				},
				access_token: 42
			})
		).toEqual(defaults);
	});

	test('an offered token is used unless it is empty or an sb_ API key', () => {
		expect(accessTokenOf({ access_token: 'a.b.c' })).toBe('a.b.c');
		expect(accessTokenOf({ access_token: '' })).toBeNull();
		expect(accessTokenOf({ access_token: 'sb_publishable_x' })).toBeNull();
		expect(accessTokenOf('a.b.c')).toBeNull();
	});
});
