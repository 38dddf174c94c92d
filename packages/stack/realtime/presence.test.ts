import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import type WebSocket from 'ws';
import {
	realtimeClient,
	startRealtimeStack,
	subscribed,
	until,
	type RealtimeTestStack
} from './test-support.ts';

let stack: RealtimeTestStack;
const clients: SupabaseClient[] = [];

beforeAll(async () => {
	stack = await startRealtimeStack();
});
afterAll(async () => {
	await Promise.all(clients.map((c) => c.removeAllChannels()));
	await stack.stop();
});

interface Member {
	client: SupabaseClient;
	channel: RealtimeChannel;
	joins: string[];
	leaves: string[];
}

function keys(channel: RealtimeChannel): string[] {
	return Object.keys(channel.presenceState()).sort();
}

async function member(topic: string, key: string): Promise<Member> {
	const client = realtimeClient(stack);
	clients.push(client);
	const m: Member = { client, channel: null as unknown as RealtimeChannel, joins: [], leaves: [] };
	m.channel = client
		.channel(topic, { config: { presence: { key } } })
		.on('presence', { event: 'join' }, ({ key }) => m.joins.push(key))
		.on('presence', { event: 'leave' }, ({ key }) => m.leaves.push(key));
	await subscribed(m.channel);
	return m;
}

describe('presence through supabase-js', () => {
	test('three clients see each other join, update, leave, and a dead socket leave', async () => {
		const alice = await member('lobby', 'alice');
		const bob = await member('lobby', 'bob');
		expect(await alice.channel.track({ status: 'online' })).toBe('ok');
		expect(await bob.channel.track({ status: 'online' })).toBe('ok');
		await until(() => keys(bob.channel).length === 2 && keys(alice.channel).length === 2, 'a and b to sync');

		// A late joiner gets the current state on join, then the others see it arrive.
		const carol = await member('lobby', 'carol');
		await until(() => keys(carol.channel).join() === 'alice,bob', 'carol to receive presence_state');
		await carol.channel.track({ status: 'away' });
		for (const m of [alice, bob, carol]) {
			await until(() => keys(m.channel).join() === 'alice,bob,carol', 'everyone to see three members');
		}
		expect(alice.channel.presenceState().carol[0]).toMatchObject({ status: 'away' });

		// Tracking again replaces the meta instead of adding one.
		await carol.channel.track({ status: 'online' });
		await until(
			() => (alice.channel.presenceState().carol?.[0] as { status?: string })?.status === 'online',
			'the update'
		);
		expect(alice.channel.presenceState().carol).toHaveLength(1);

		// untrack: the others see bob leave.
		await bob.channel.untrack();
		await until(
			() => keys(alice.channel).join() === 'alice,carol' && alice.leaves.includes('bob'),
			'bob to leave'
		);

		// carol's socket dies without a goodbye: her presence leaves for everyone.
		const socket = (
			carol.client.realtime as unknown as { socketAdapter: { getSocket(): { conn: WebSocket } } }
		).socketAdapter.getSocket().conn;
		socket.terminate();
		await until(
			() => keys(alice.channel).join() === 'alice' && keys(bob.channel).join() === 'alice',
			'carol to leave'
		);
		expect(alice.leaves).toContain('carol');
	});

	test('a presence key defaults to a UUID and presence is per topic', async () => {
		const client = realtimeClient(stack);
		clients.push(client);
		const other = await member('elsewhere', 'zed');
		const ch = client.channel('anon-presence').on('presence', { event: 'sync' }, () => {});
		await subscribed(ch);
		await ch.track({ here: true });
		await until(() => keys(ch).length === 1, 'own presence');
		expect(keys(ch)[0]).toMatch(/^[0-9a-f-]{36}$/);
		expect(keys(other.channel)).toEqual([]);
	});
});
