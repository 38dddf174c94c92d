import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxEntry } from './outbox.ts';

function entry(outbox: Outbox, clientId: string, conversationId = 'c1'): OutboxEntry {
	return {
		client_id: clientId,
		conversation_id: conversationId,
		content_encrypted: `cipher-${clientId}`,
		encryption: { epoch: 0, nonce: 'n' },
		message_type: 'text',
		reply_to_id: null,
		createdAt: outbox.stamp(),
		attempts: 0,
		lastError: null
	};
}

describe('Outbox', () => {
	it('returns entries in creation order even when created in the same millisecond', async () => {
		const outbox = new Outbox('u1', new IDBFactory());
		// Client ids sort the other way round, so key order cannot pass for creation order.
		const ids = ['f', 'e', 'd', 'c', 'b', 'a'];
		for (const id of ids) await outbox.put(entry(outbox, id));
		expect((await outbox.all()).map((e) => e.client_id)).toEqual(ids);
	});

	it('persists across connections, updates in place and removes', async () => {
		const factory = new IDBFactory();
		const first = new Outbox('u1', factory);
		const a = entry(first, 'a');
		await first.put(a);
		await first.put(entry(first, 'b'));
		await first.close();

		const second = new Outbox('u1', factory);
		expect((await second.all()).map((e) => e.client_id)).toEqual(['a', 'b']);
		await second.put({ ...a, attempts: 2, lastError: 'offline' });
		expect(await second.get('a')).toMatchObject({
			attempts: 2,
			lastError: 'offline',
			createdAt: a.createdAt
		});
		expect((await second.all()).map((e) => e.client_id)).toEqual(['a', 'b']);

		// A new entry after reopening still sorts after the old ones.
		await second.put(entry(second, 'c'));
		await second.remove('a');
		expect((await second.all()).map((e) => e.client_id)).toEqual(['b', 'c']);
		expect(await second.get('a')).toBeUndefined();
	});

	it('keeps each user in their own database', async () => {
		const factory = new IDBFactory();
		const alice = new Outbox('alice', factory);
		const bob = new Outbox('bob', factory);
		await alice.put(entry(alice, 'x'));
		expect(await bob.all()).toEqual([]);
		expect(await alice.all()).toHaveLength(1);
	});
});
