import { describe, expect, test } from 'vitest';
import type { Permissions } from './authorization.ts';
import type { Channel } from './hub.ts';
import { concerns, createReauthorizer } from './reauthorize.ts';

const channel = (name: string, sub: string, isPrivate = true): Channel =>
	({
		name,
		private: isPrivate,
		closed: false,
		claims: { sub, role: 'authenticated', exp: 0 }
	}) as unknown as Channel;

const all: Permissions = { broadcast: true, presence: true };
const none: Permissions = { broadcast: false, presence: false };

describe('which channels a change concerns', () => {
	test("a channel whose user, or one of whose topic's parts, is a changed value", () => {
		const change = new Set(['c1', 'rob']);
		expect(concerns(channel('conversation:c1:2', 'ana'), change)).toBe(true);
		expect(concerns(channel('user:x', 'rob'), change)).toBe(true);
		expect(concerns(channel('conversation:c2:2', 'ana'), change)).toBe(false);
		// A part must match whole: c1 is not c10.
		expect(concerns(channel('conversation:c10:1', 'ana'), change)).toBe(false);
		expect(concerns(channel('conversation:c1:2', 'ana', false), change)).toBe(false);
		expect(concerns(channel('anything', 'ana'), 'all')).toBe(true);
	});
});

describe('re-checking', () => {
	test('one check per topic and claims, refusals applied, and a change during a pass gets its own pass', async () => {
		const rob = channel('conversation:c1:1', 'rob');
		const robAgain = channel('conversation:c1:1', 'rob');
		robAgain.claims = { ...rob.claims };
		const ana = channel('conversation:c1:1', 'ana');
		const later = channel('user:bob', 'bob');
		const channels = [rob, robAgain, ana];
		const reads: string[] = [];
		const applied: [string, boolean][] = [];
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		const r = createReauthorizer({
			channels: () => channels,
			read: async (ch) => {
				reads.push(`${ch.name}/${ch.claims.sub}`);
				if (ch.claims.sub === 'ana') await gate;
				return ch.claims.sub === 'rob' ? none : all;
			},
			write: async (ch) => (ch.claims.sub === 'rob' ? none : all),
			apply: (ch, read) => applied.push([ch.claims.sub!, read.broadcast]),
			log: () => undefined
		});
		const first = r.changed(new Set(['c1']));
		await new Promise((resolve) => setTimeout(resolve, 5));
		channels.push(later);
		const second = r.changed(new Set(['bob']));
		release();
		await Promise.all([first, second]);
		expect(reads.sort()).toEqual(['conversation:c1:1/ana', 'conversation:c1:1/rob', 'user:bob/bob']);
		expect(applied.sort()).toEqual([
			['ana', true],
			['bob', true],
			['rob', false],
			['rob', false]
		]);
	});

	test('a check that cannot run refuses nothing', async () => {
		const applied: string[] = [];
		const logs: string[] = [];
		const r = createReauthorizer({
			channels: () => [channel('conversation:c1:1', 'rob')],
			read: async () => {
				throw new Error('database down');
			},
			write: async () => all,
			apply: (ch) => applied.push(ch.name),
			log: (m) => logs.push(m)
		});
		await r.changed('all');
		expect(applied).toEqual([]);
		expect(logs[0]).toMatch(/database down/);
	});
});
