import { describe, expect, it } from 'vitest';
import { CHUNK_SEQS, MessageIndex, SCAN_BUDGET, chunkKeyOf, type IndexedMessage } from './message-index.ts';

let clock = Date.parse('2026-01-01T00:00:00Z');
function message(id: string, x: string, over: Partial<IndexedMessage> = {}): IndexedMessage {
	clock += 60_000;
	const s = Number(id.replace(/\D/g, '')) || 1;
	return { id, c: 'c1', s, u: 'ana', t: clock, x, ...over };
}

const ids = (hits: { message: IndexedMessage }[]) => hits.map((h) => h.message.id);

describe('MessageIndex', () => {
	it('finds words by prefix and with a typo, folding case and accents, newest first', () => {
		const index = new MessageIndex();
		index.put(message('m1', 'Lunch at the Café tomorrow?'));
		index.put(message('m2', 'The meeting moved to Friday'));
		index.put(message('m3', 'meeting notes are in the doc'));
		expect(ids(index.search('meeting'))).toEqual(['m3', 'm2']);
		expect(ids(index.search('meet'))).toEqual(['m3', 'm2']);
		expect(ids(index.search('meetnig'))).toEqual(['m3', 'm2']);
		expect(ids(index.search('cafe'))).toEqual(['m1']);
		expect(ids(index.search('CAFÉ'))).toEqual(['m1']);
		// Every word must match.
		expect(ids(index.search('meeting friday'))).toEqual(['m2']);
		expect(index.search('meeting banana')).toEqual([]);
		expect(index.search('   ')).toEqual([]);
	});

	it('ranks exact and prefix matches before typo matches, each newest first', () => {
		const index = new MessageIndex();
		index.put(message('m1', 'the contract is signed'));
		index.put(message('m2', 'a new contact joined'));
		index.put(message('m3', 'contract review at noon'));
		const hits = index.search('contract');
		expect(ids(hits)).toEqual(['m3', 'm1', 'm2']);
		expect(hits.map((h) => h.exact)).toEqual([true, true, false]);
		expect(hits[2].terms).toEqual(['contact']);
	});

	it('replaces the text of an edited message and forgets a deleted one', () => {
		const index = new MessageIndex();
		index.put(message('m1', 'see you at the station'));
		expect(index.put({ ...index.get('m1')!, x: 'see you at the airport' })).toBe(true);
		expect(index.search('station')).toEqual([]);
		expect(ids(index.search('airport'))).toEqual(['m1']);
		// Putting the same message again changes nothing.
		expect(index.put({ ...index.get('m1')! })).toBe(false);
		expect(index.remove('m1')).toBe(true);
		expect(index.remove('m1')).toBe(false);
		expect(index.search('airport')).toEqual([]);
		expect(index.size).toBe(0);
	});

	it('searches one conversation or all of them', () => {
		const index = new MessageIndex();
		index.put(message('m1', 'pizza tonight?', { c: 'c1' }));
		index.put(message('m2', 'pizza was great', { c: 'c2' }));
		expect(ids(index.search('pizza'))).toEqual(['m2', 'm1']);
		expect(ids(index.search('pizza', { conversationId: 'c1' }))).toEqual(['m1']);
		expect(ids(index.search('pizza', { conversationId: 'c3' }))).toEqual([]);
		expect(index.removeConversation('c2')).toBe(1);
		expect(ids(index.search('pizza'))).toEqual(['m1']);
	});

	it('answers common words from the newest messages exactly as the full index would', () => {
		const index = new MessageIndex();
		const total = SCAN_BUDGET + 500;
		for (let i = 1; i <= total; i++) {
			const c = `c${i % 7}`;
			index.put(message(`m${i}`, i % 3 ? `the plan number ${i}` : `other words ${i}`, { c, s: i }));
		}
		// "the" is in two thirds of the messages: the newest 50 of them, across conversations.
		const hits = index.search('the', { limit: 50 });
		const expected = Array.from({ length: total }, (_, k) => total - k)
			.filter((i) => i % 3)
			.slice(0, 50)
			.map((i) => `m${i}`);
		expect(ids(hits)).toEqual(expected);
		expect(hits[0].terms).toEqual(['the']);
		// Rare words go to the inverted index and come back in the same order.
		expect(ids(index.search('words 3'))).toEqual(['m3']);
		const inC1 = Array.from({ length: total }, (_, k) => total - k).filter((i) => i % 3 && i % 7 === 1);
		expect(ids(index.search('plan', { conversationId: 'c1', limit: 3 }))).toEqual(
			inC1.slice(0, 3).map((i) => `m${i}`)
		);
	});

	it('groups messages in chunks and reports which changed', () => {
		const index = new MessageIndex();
		index.put(message('m1', 'one', { s: 1 }));
		index.put(message('m2', 'two', { s: CHUNK_SEQS + 1 }));
		const dirty = index.takeDirty();
		expect([...dirty.keys()].sort()).toEqual(['c1:0', 'c1:1']);
		expect(dirty.get('c1:0')!.map((m) => m.id)).toEqual(['m1']);
		expect(index.takeDirty().size).toBe(0);
		index.remove('m1');
		expect([...index.takeDirty()]).toEqual([['c1:0', []]]);
		expect(chunkKeyOf({ c: 'x', s: CHUNK_SEQS * 3 + 5 })).toBe('x:3');
		// Loaded chunks are not dirty, and do not override what this session indexed.
		index.put(message('m9', 'newer text', { s: 9 }));
		index.takeDirty();
		index.load([message('m9', 'older text', { s: 9 }), message('m8', 'loaded', { s: 8 })]);
		expect(index.dirty).toBe(false);
		expect(index.get('m9')!.x).toBe('newer text');
		expect(ids(index.search('loaded'))).toEqual(['m8']);
	});
});
