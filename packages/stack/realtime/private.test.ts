import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import {
	realtimeClient,
	startRealtimeStack,
	subscribed,
	until,
	userToken,
	type RealtimeTestStack
} from './test-support.ts';

let stack: RealtimeTestStack;
const clients: SupabaseClient[] = [];

const MEMBER = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const READER = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const OUTSIDER = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';

beforeAll(async () => {
	stack = await startRealtimeStack();
	// Policies as an app writes them: members of a room read its topic; only writers send/track.
	await stack.db.query(`
		create table public.room_members (room text, user_id uuid, can_write boolean);
		grant select on public.room_members to authenticated;
		insert into public.room_members values ('room:1', '${MEMBER}', true), ('room:1', '${READER}', false);
		create policy "members read" on realtime.messages for select to authenticated using (
		  exists (select 1 from public.room_members m where m.user_id = auth.uid() and m.room = realtime.topic()));
		create policy "writers send" on realtime.messages for insert to authenticated with check (
		  exists (select 1 from public.room_members m
		          where m.user_id = auth.uid() and m.room = realtime.topic() and m.can_write));
	`);
});
afterAll(async () => {
	await Promise.all(clients.map((c) => c.removeAllChannels()));
	await stack.stop();
});

type Received = { event: string; payload: Record<string, unknown> };
type System = { status: string; message: string; extension: string; channel: string };

function client(token?: string | (() => string)): SupabaseClient {
	const c = realtimeClient(stack, token);
	clients.push(c);
	return c;
}

function room(c: SupabaseClient, got: Received[], system: System[] = [], presence = false): RealtimeChannel {
	const ch = c
		.channel('room:1', {
			config: { private: true, broadcast: { ack: true }, presence: { enabled: presence } }
		})
		.on('broadcast', { event: '*' }, (m) => got.push(m as unknown as Received))
		.on('system', {}, (m) => system.push(m as System));
	return ch;
}

describe('private channels authorized by RLS on realtime.messages', () => {
	test('outsiders can neither join, receive nor send; members can; read-only members cannot send', async () => {
		const gotMember: Received[] = [];
		const gotReader: Received[] = [];
		const readerSystem: System[] = [];
		const member = room(client(await userToken(stack.config, MEMBER)), gotMember);
		const reader = room(client(await userToken(stack.config, READER)), gotReader, readerSystem);
		await Promise.all([subscribed(member), subscribed(reader)]);

		const outsider = room(client(await userToken(stack.config, OUTSIDER)), []);
		await expect(subscribed(outsider)).rejects.toThrow(
			'Unauthorized: You do not have permissions to read from this Channel topic: room:1'
		);
		await outsider.unsubscribe();
		// Anonymous (anon role) joins are refused too.
		await expect(subscribed(room(client(), []))).rejects.toThrow(/Unauthorized/);

		expect(await member.send({ type: 'broadcast', event: 'msg', payload: { from: 'member' } })).toBe('ok');
		await until(() => gotReader.length === 1, 'the reader to receive');
		expect(gotReader[0]).toMatchObject({ event: 'msg', payload: { from: 'member' } });

		// The reader may read but not write: the push is dropped with a system message.
		expect(await reader.send({ type: 'broadcast', event: 'msg', payload: { from: 'reader' } })).toBe('error');
		await until(() => readerSystem.length === 1, 'a system message');
		expect(readerSystem[0]).toMatchObject({
			status: 'error',
			extension: 'system',
			channel: 'room:1',
			message: 'Unauthorized: You do not have permissions to write to this Channel topic: room:1'
		});
		// Nothing reached the member: a later message from the member arrives alone.
		await member.send({ type: 'broadcast', event: 'msg', payload: { n: 2 } });
		await reader.send({ type: 'broadcast', event: 'msg', payload: { n: 3 } });
		await until(() => gotReader.length === 2 && readerSystem.length === 2, 'the second round');
		await member.send({ type: 'broadcast', event: 'msg', payload: { n: 4 } });
		await until(() => gotReader.length === 3, 'the third message');
		expect(gotMember).toEqual([]);
	});

	test('database messages and HTTP broadcasts to a private topic reach only authorized joins', async () => {
		const got: Received[] = [];
		const member = room(client(await userToken(stack.config, MEMBER)), got);
		await subscribed(member);
		const publicGot: Received[] = [];
		await subscribed(
			client()
				.channel('room:1')
				.on('broadcast', { event: '*' }, (m) => publicGot.push(m as unknown as Received))
		);

		await stack.db.query(`select realtime.send('{"db": 1}'::jsonb, 'from-db', 'room:1', true)`);
		await until(() => got.length === 1, 'the database message');

		const post = async (token: string, n: number) =>
			fetch(`${stack.apiUrl}/realtime/v1/api/broadcast`, {
				method: 'POST',
				headers: {
					apikey: stack.config.anonKey,
					authorization: `Bearer ${token}`,
					'content-type': 'application/json'
				},
				body: JSON.stringify({
					messages: [{ topic: 'room:1', event: 'from-http', payload: { n }, private: true }]
				})
			});
		// An outsider's private HTTP message is accepted and dropped, as on Supabase.
		expect((await post(await userToken(stack.config, OUTSIDER), 1)).status).toBe(202);
		expect((await post(await userToken(stack.config, MEMBER), 2)).status).toBe(202);
		expect((await post(stack.config.serviceRoleKey, 3)).status).toBe(202);
		await until(() => got.length === 3, 'the authorized HTTP messages');
		expect(got.map((m) => m.payload.n ?? m.payload.db)).toEqual([1, 2, 3]);
		expect(publicGot).toEqual([]);
	});

	test('presence on a private channel needs the insert policy to track', async () => {
		const memberChannel = room(client(await userToken(stack.config, MEMBER)), [], [], true);
		const readerChannel = room(client(await userToken(stack.config, READER)), [], [], true);
		await Promise.all([subscribed(memberChannel), subscribed(readerChannel)]);
		expect(await memberChannel.track({ name: 'member' })).toBe('ok');
		expect(await readerChannel.track({ name: 'reader' })).toBe('error');
		await until(
			() => Object.keys(readerChannel.presenceState()).length === 1,
			'the reader to see the member'
		);
		expect(Object.keys(memberChannel.presenceState())).toHaveLength(1);
	});

	test('an expired token closes the channel with a system message', async () => {
		const system: System[] = [];
		const statuses: string[] = [];
		const token = await userToken(stack.config, MEMBER, { expiresIn: 3 });
		const ch = room(client(token), [], system);
		await new Promise<void>((resolve) =>
			ch.subscribe((status) => {
				statuses.push(status);
				if (status === 'SUBSCRIBED') resolve();
			})
		);
		await until(() => statuses.includes('CLOSED'), 'the channel to close', 15_000);
		expect(system).toContainEqual(
			expect.objectContaining({
				status: 'error',
				extension: 'system',
				message: expect.stringMatching(/^Token has expired/)
			})
		);
		// A join with an already expired token is refused with Supabase's message.
		const expired = await userToken(stack.config, MEMBER, { expiresIn: -10 });
		await expect(subscribed(room(client(expired), []))).rejects.toThrow(
			/InvalidJWTToken: Token has expired \d+ seconds ago/
		);
	});

	test('setAuth refreshes the token mid-connection; a token that lost access closes the channel', async () => {
		// Whole seconds: 3 leaves at least 2 s to join and refresh on a busy machine.
		let token = await userToken(stack.config, MEMBER, { expiresIn: 3 });
		const c = client(() => token);
		const system: System[] = [];
		const got: Received[] = [];
		const ch = room(c, got, system);
		await subscribed(ch);
		token = await userToken(stack.config, MEMBER, { expiresIn: 3600 });
		await c.realtime.setAuth(token);
		// Past the first token's expiry the channel is still joined and receiving.
		const firstExpiry = Date.now() + 3500;
		await until(() => Date.now() > firstExpiry, 'the first token to expire', 15_000);
		await stack.db.query(`select realtime.send('{"still": "here"}'::jsonb, 'e', 'room:1', true)`);
		await until(() => got.length === 1, 'a message after the refresh');
		expect(ch.state).toBe('joined');
		expect(system).toEqual([]);

		// A token of someone outside the policy: the channel is closed.
		token = await userToken(stack.config, OUTSIDER);
		await c.realtime.setAuth(token);
		await until(() => system.length === 1, 'the revocation');
		expect(system[0]).toMatchObject({
			status: 'error',
			message: 'You do not have permissions to read from this Channel topic: room:1'
		});
		await until(() => ch.state === 'closed', 'the channel to close');
	});
});
