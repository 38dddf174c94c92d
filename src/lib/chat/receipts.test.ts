import { describe, expect, it } from 'vitest';
import { Receipts } from './receipts.ts';
import { FakeRpcError, FakeSupabase } from './testing/fake-supabase.ts';
import type { ParticipantView } from './types.ts';

function setup(fail: (name: string) => Error | null = () => null) {
	const calls: [string, number][] = [];
	const mine = { last_delivered_seq: 2, last_read_seq: 1 } as ParticipantView;
	const sb = new FakeSupabase('me');
	const mark = (name: string) => (args: Record<string, unknown>) => {
		const error = fail(name);
		if (error) throw error;
		calls.push([name, Number(args.up_to_seq)]);
		return null;
	};
	sb.rpcHandlers = { mark_read: mark('mark_read'), mark_delivered: mark('mark_delivered') };
	const receipts = new Receipts({
		client: () => sb.client,
		started: () => true,
		mine: () => mine,
		delayMs: 1
	});
	return { receipts, calls, mine };
}

describe('Receipts', () => {
	it('sends one call per kind, skips what the server has, and lets read cover delivered', async () => {
		const t = setup();
		t.receipts.queue('c1', 'delivered', 2);
		t.receipts.queue('c1', 'read', 1);
		await t.receipts.flush();
		expect(t.calls).toEqual([]);
		t.receipts.queue('c1', 'delivered', 5);
		t.receipts.queue('c1', 'delivered', 4);
		t.receipts.queue('c1', 'read', 5);
		await t.receipts.flush();
		expect(t.calls).toEqual([['mark_read', 5]]);
		expect(t.mine).toMatchObject({ last_read_seq: 5, last_delivered_seq: 5 });
	});

	it('keeps receipts that failed offline for the next flush, and drops refused ones', async () => {
		let offline = true;
		const t = setup((name) =>
			offline
				? new FakeRpcError(0, 'fetch_failed', 'TypeError: fetch failed')
				: name === 'mark_read'
					? new FakeRpcError(404, 'conversation_not_found', 'Conversation not found')
					: null
		);
		t.receipts.queue('c1', 'delivered', 7);
		await t.receipts.flush();
		offline = false;
		await t.receipts.flush();
		expect(t.calls).toEqual([['mark_delivered', 7]]);
		t.receipts.queue('c1', 'read', 9);
		await t.receipts.flush();
		await t.receipts.flush();
		expect(t.calls).toEqual([['mark_delivered', 7]]);
	});

	it('marks listed conversations delivered past my watermark, skipping ones whose newest is mine and read', async () => {
		const t = setup();
		const view = (id: string, last_seq: number, sender_id: string, unread_count = 0) =>
			({ id, last_seq, unread_count, last_message: { seq: last_seq, sender_id } }) as never;
		t.receipts.listed(
			[view('c1', 2, 'bob'), view('c2', 5, 'me'), view('c3', 6, 'me', 1), view('c4', 7, 'bob')],
			'me'
		);
		await t.receipts.flush();
		expect(t.calls).toEqual([
			['mark_delivered', 6],
			['mark_delivered', 7]
		]);
	});
});
