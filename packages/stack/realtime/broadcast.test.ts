import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SupabaseClient } from '@supabase/supabase-js';
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

function client(token?: string, realtime?: Record<string, unknown>): SupabaseClient {
	const c = realtimeClient(stack, token, realtime);
	clients.push(c);
	return c;
}

beforeAll(async () => {
	stack = await startRealtimeStack();
});
afterAll(async () => {
	await Promise.all(clients.map((c) => c.removeAllChannels()));
	await stack.stop();
});

type Received = { event: string; payload: unknown; type: string };

describe('broadcast through supabase-js', () => {
	test('a message reaches the other subscribers, not the sender unless `self`', async () => {
		const [a, b, c] = [client(), client(), client()];
		const got: Record<string, Received[]> = { a: [], b: [], c: [] };
		const chA = a.channel('room-1').on('broadcast', { event: 'hello' }, (m) => got.a.push(m as Received));
		const chB = b.channel('room-1').on('broadcast', { event: 'hello' }, (m) => got.b.push(m as Received));
		const chC = c
			.channel('room-1', { config: { broadcast: { self: true } } })
			.on('broadcast', { event: '*' }, (m) => got.c.push(m as Received));
		await Promise.all([subscribed(chA), subscribed(chB), subscribed(chC)]);

		expect(await chA.send({ type: 'broadcast', event: 'hello', payload: { n: 1, text: 'héllo 👋' } })).toBe(
			'ok'
		);
		await until(() => got.b.length === 1 && got.c.length === 1, 'b and c to receive');
		expect(got.b[0]).toEqual({ type: 'broadcast', event: 'hello', payload: { n: 1, text: 'héllo 👋' } });

		// c has `self: true`: its own message comes back to it; a's did not come back to a.
		await chC.send({ type: 'broadcast', event: 'hello', payload: { n: 2 } });
		await until(() => got.c.length === 2 && got.a.length === 1 && got.b.length === 2, 'second message');
		expect(got.c.map((m) => (m.payload as { n: number }).n)).toEqual([1, 2]);
		expect(got.a.map((m) => (m.payload as { n: number }).n)).toEqual([2]);
	});

	test('`ack` confirms each push; without it send() resolves at once', async () => {
		const [a, b] = [client(), client()];
		const got: Received[] = [];
		const chA = a.channel('room-ack', { config: { broadcast: { ack: true } } });
		const chB = b.channel('room-ack').on('broadcast', { event: 'x' }, (m) => got.push(m as Received));
		await Promise.all([subscribed(chA), subscribed(chB)]);
		const results = await Promise.all(
			[1, 2, 3].map((n) => chA.send({ type: 'broadcast', event: 'x', payload: { n } }))
		);
		expect(results).toEqual(['ok', 'ok', 'ok']);
		await until(() => got.length === 3, 'three messages');
		expect(got.map((m) => (m.payload as { n: number }).n)).toEqual([1, 2, 3]);
	});

	test('public and private topics of the same name are separate, and other topics see nothing', async () => {
		const token = await userToken(stack.config, '11111111-1111-4111-8111-111111111111', {
			role: 'service_role'
		});
		const [a, b, c] = [client(), client(token), client()];
		const gotPrivate: Received[] = [];
		const gotOther: Received[] = [];
		const chA = a.channel('shared');
		const chB = b
			.channel('shared', { config: { private: true } })
			.on('broadcast', { event: '*' }, (m) => gotPrivate.push(m as Received));
		const chC = c.channel('other').on('broadcast', { event: '*' }, (m) => gotOther.push(m as Received));
		const probe = client();
		const gotProbe: Received[] = [];
		const chProbe = probe
			.channel('shared')
			.on('broadcast', { event: '*' }, (m) => gotProbe.push(m as Received));
		await Promise.all([subscribed(chA), subscribed(chB), subscribed(chC), subscribed(chProbe)]);
		await chA.send({ type: 'broadcast', event: 'e', payload: {} });
		await until(() => gotProbe.length === 1, 'the public subscriber to receive');
		expect(gotPrivate).toEqual([]);
		expect(gotOther).toEqual([]);
	});

	test('vsn 1.0.0 clients and vsn 2.0.0 clients talk to each other', async () => {
		const v1 = client(undefined, { vsn: '1.0.0' });
		const v2 = client();
		const got1: Received[] = [];
		const got2: Received[] = [];
		const ch1 = v1.channel('mixed').on('broadcast', { event: 'm' }, (m) => got1.push(m as Received));
		const ch2 = v2.channel('mixed').on('broadcast', { event: 'm' }, (m) => got2.push(m as Received));
		await Promise.all([subscribed(ch1), subscribed(ch2)]);
		await ch1.send({ type: 'broadcast', event: 'm', payload: { from: 'v1' } });
		await ch2.send({ type: 'broadcast', event: 'm', payload: { from: 'v2' } });
		await until(() => got1.length === 1 && got2.length === 1, 'cross-version delivery');
		expect(got1[0]).toMatchObject({ event: 'm', payload: { from: 'v2' } });
		expect(got2[0]).toMatchObject({ event: 'm', payload: { from: 'v1' } });
	});

	test('the HTTP broadcast endpoint reaches joined sockets and answers 202', async () => {
		const sub = client();
		const got: Received[] = [];
		const ch = sub
			.channel('http-room')
			.on('broadcast', { event: 'from-http' }, (m) => got.push(m as Received));
		await subscribed(ch);
		const response = await fetch(`${stack.apiUrl}/realtime/v1/api/broadcast`, {
			method: 'POST',
			headers: { apikey: stack.config.anonKey, 'content-type': 'application/json' },
			body: JSON.stringify({ messages: [{ topic: 'http-room', event: 'from-http', payload: { ok: true } }] })
		});
		expect(response.status).toBe(202);
		await until(() => got.length === 1, 'the HTTP message');
		expect(got[0]).toEqual({ type: 'broadcast', event: 'from-http', payload: { ok: true } });

		// supabase-js falls back to the same endpoint when a channel is not joined.
		const sender = client();
		const unjoined = sender.channel('http-room');
		const original = console.warn;
		console.warn = () => {};
		try {
			expect(await unjoined.send({ type: 'broadcast', event: 'from-http', payload: { n: 2 } })).toBe('ok');
		} finally {
			console.warn = original;
		}
		await until(() => got.length === 2, 'the fallback message');

		// httpSend: one message, topic and event in the path.
		expect(await unjoined.httpSend('from-http', { n: 3 })).toEqual({ success: true });
		await until(() => got.length === 3, 'the httpSend message');
		expect(got[2].payload).toEqual({ n: 3 });

		const invalid = await fetch(`${stack.apiUrl}/realtime/v1/api/broadcast`, {
			method: 'POST',
			headers: { apikey: stack.config.anonKey, 'content-type': 'application/json' },
			body: JSON.stringify({ messages: [{ topic: 'x' }] })
		});
		expect(invalid.status).toBe(422);
		const noKey = await fetch(`${stack.apiUrl}/realtime/v1/api/broadcast`, { method: 'POST', body: '{}' });
		expect(noKey.status).toBe(401);
	});

	test('reconnects and rejoins on its own after the server restarts', async () => {
		const [a, b] = [client(), client()];
		const got: Received[] = [];
		const statuses: string[] = [];
		const chA = a.channel('restart-room');
		const chB = b.channel('restart-room').on('broadcast', { event: 'e' }, (m) => got.push(m as Received));
		await subscribed(chA);
		await new Promise<void>((resolve) =>
			chB.subscribe((status) => {
				statuses.push(status);
				if (status === 'SUBSCRIBED') resolve();
			})
		);
		await stack.stopGateway();
		await until(() => !a.realtime.isConnected() && !b.realtime.isConnected(), 'clients to notice');
		await stack.restart();
		await until(() => chA.state === 'joined' && chB.state === 'joined', 'both channels to rejoin', 20_000);
		await chA.send({ type: 'broadcast', event: 'e', payload: { after: 'restart' } });
		await until(() => got.length === 1, 'a message after the restart');
		expect(got[0].payload).toEqual({ after: 'restart' });
		expect(stack.service.connections()).toBeGreaterThanOrEqual(2);
	});
});
