import { afterEach, describe, expect, it, vi } from 'vitest';
import { KEY_REQUEST_INTERVAL_MS, KEY_SHARE_DELAY_MS, KeyRequests } from './key-requests.ts';

afterEach(() => vi.useRealTimers());

describe('KeyRequests', () => {
	it('asks at most every interval per conversation, at once again after an answer, and not while unjoined', () => {
		const T = Date.UTC(2026, 11, 2);
		const asks: string[] = [];
		let joined = false;
		const k = new KeyRequests({
			ask: (id, epoch) => (joined ? asks.push(`${id}@${epoch}`) > 0 : false),
			share: async () => undefined,
			ready: () => true,
			epochOf: () => undefined
		});
		k.ask('c1', 2, T);
		joined = true;
		k.ask('c1', 2, T + 1);
		k.ask('c1', 2, T + 2);
		k.ask('c2', 1, T + 3);
		expect(asks).toEqual(['c1@2', 'c2@1']);
		k.ask('c1', 2, T + 1 + KEY_REQUEST_INTERVAL_MS);
		k.answered('c2');
		k.ask('c2', 1, T + 4);
		expect(asks).toEqual(['c1@2', 'c2@1', 'c1@2', 'c2@1']);
	});

	it('answers several asks of one moment with one share, and a reset cancels it', () => {
		vi.useFakeTimers();
		const shared: string[] = [];
		const k = new KeyRequests({
			ask: () => true,
			share: async (id) => shared.push(id),
			ready: () => true,
			epochOf: () => undefined
		});
		k.asked('c1');
		k.asked('c1');
		k.asked('c2');
		vi.advanceTimersByTime(KEY_SHARE_DELAY_MS);
		expect(shared).toEqual(['c1', 'c2']);
		k.asked('c1');
		k.reset();
		vi.advanceTimersByTime(KEY_SHARE_DELAY_MS);
		expect(shared).toEqual(['c1', 'c2']);
	});

	it("asks only for undecryptable messages of the current epoch, and answers others' asks, not mine", () => {
		vi.useFakeTimers();
		const asks: string[] = [];
		const shared: string[] = [];
		let ready = false;
		const k = new KeyRequests({
			ask: (id, epoch) => asks.push(`${id}@${epoch}`) > 0,
			share: async (id) => shared.push(id),
			ready: () => ready,
			epochOf: () => 2
		});
		const m = (id: string, epoch: number, undecryptable: boolean) =>
			({ conversation_id: id, undecryptable, encryption: { epoch, nonce: 'n' } }) as never;
		k.askFor([m('c1', 2, true)]);
		k.heard('c1', 'bob', 'me');
		ready = true;
		k.askFor([undefined, m('c1', 1, true), m('c2', 2, false), m('c3', 2, true)]);
		expect(asks).toEqual(['c3@2']);
		k.heard('c1', 'me', 'me');
		k.heard('c2', 'bob', 'me');
		vi.advanceTimersByTime(KEY_SHARE_DELAY_MS);
		expect(shared).toEqual(['c2']);
	});

	it("under the 'shared' history rule also asks for earlier epochs; offers share once, only when ready", () => {
		vi.useFakeTimers();
		const asks: string[] = [];
		const shared: string[] = [];
		let ready = false;
		const rules: Record<string, 'joined' | 'shared'> = { c1: 'shared', c2: 'joined' };
		const k = new KeyRequests({
			ask: (id, epoch) => asks.push(`${id}@${epoch}`) > 0,
			share: async (id) => shared.push(id),
			ready: () => ready,
			epochOf: () => 3,
			rule: (id) => rules[id]
		});
		const m = (id: string, epoch: number) =>
			({ conversation_id: id, undecryptable: true, encryption: { epoch, nonce: 'n' } }) as never;
		k.offer('c1');
		vi.advanceTimersByTime(KEY_SHARE_DELAY_MS);
		expect(shared).toEqual([]);
		ready = true;
		// c2 keeps the 'joined' rule: its epoch 1 key will never come, so nobody is asked for it.
		k.askFor([m('c1', 1), m('c2', 1), m('c1', 4)]);
		expect(asks).toEqual(['c1@1']);
		k.offer('c1');
		k.offer('c1');
		vi.advanceTimersByTime(KEY_SHARE_DELAY_MS);
		expect(shared).toEqual(['c1']);
	});
});
