import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { decodeBinary, encodeUserBroadcast } from './protocol.ts';
import {
	rawClient,
	realtimeClient,
	startRealtimeStack,
	subscribed,
	until,
	userToken,
	type RawClient,
	type RealtimeTestStack
} from './test-support.ts';

let stack: RealtimeTestStack;
let strict: RealtimeTestStack;
const raws: RawClient[] = [];

beforeAll(async () => {
	stack = await startRealtimeStack({
		realtime: {
			maxPayloadBytes: 1000,
			maxFrameBytes: 20_000,
			maxChannelsPerClient: 3,
			maxEventsPerSecond: 20
		}
	});
	strict = await startRealtimeStack({
		realtime: { heartbeatTimeoutMs: 200 },
		config: { realtime: { privateOnly: true } }
	});
});
afterAll(async () => {
	for (const r of raws) r.ws.terminate();
	await stack.stop();
	await strict.stop();
});

async function raw(s = stack, vsn: '1.0.0' | '2.0.0' = '2.0.0'): Promise<RawClient> {
	const r = await rawClient(s, vsn);
	raws.push(r);
	return r;
}

type V2 = [string | null, string | null, string, string, Record<string, unknown>];
const isReply = (ref: string) => (f: unknown) => Array.isArray(f) && f[1] === ref && f[3] === 'phx_reply';

async function join(r: RawClient, topic: string, ref: string, config: object = {}): Promise<V2> {
	r.send([ref, ref, `realtime:${topic}`, 'phx_join', { config: { broadcast: { self: false }, ...config } }]);
	return (await r.next(isReply(ref), `reply to join ${ref}`)) as V2;
}

describe('protocol details and limits (raw WebSocket clients)', () => {
	test('heartbeat, join reply, leave, and both serializers', async () => {
		const r = await raw();
		r.send([null, 'h1', 'phoenix', 'heartbeat', {}]);
		expect(await r.next(isReply('h1'))).toEqual([
			null,
			'h1',
			'phoenix',
			'phx_reply',
			{ status: 'ok', response: {} }
		]);
		expect(await join(r, 'plain', '1')).toEqual([
			'1',
			'1',
			'realtime:plain',
			'phx_reply',
			{ status: 'ok', response: { postgres_changes: [] } }
		]);
		r.send(['1', '2', 'realtime:plain', 'phx_leave', {}]);
		expect(((await r.next(isReply('2'))) as V2)[4]).toEqual({ status: 'ok', response: {} });

		const v1 = await raw(stack, '1.0.0');
		v1.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: 'x' });
		expect(await v1.next((f) => (f as { ref?: string }).ref === 'x')).toMatchObject({
			topic: 'phoenix',
			event: 'phx_reply',
			payload: { status: 'ok', response: {} }
		});
	});

	test('malformed frames and unknown events are answered and harm no other socket', async () => {
		const bad = await raw();
		const [a, b] = [await raw(), await raw()];
		await join(a, 'calm', '1');
		await join(b, 'calm', '1');
		await join(bad, 'calm', '1');
		for (const garbage of ['not json', '{"an":"object"}', '[1,2]', '[null,null,5,"x",{}]']) bad.send(garbage);
		bad.send(Buffer.from([9, 9, 9]));
		await until(
			() => bad.frames.filter((f) => Array.isArray(f) && f[3] === 'system').length === 5,
			'five answers'
		);
		for (const f of bad.frames.filter((f) => Array.isArray(f) && f[3] === 'system') as V2[]) {
			expect(f[2]).toBe('phoenix');
			expect(f[4]).toMatchObject({ status: 'error', message: expect.stringMatching(/^Malformed message/) });
		}
		bad.send(['1', 'u1', 'realtime:calm', 'nonsense', {}]);
		expect(((await bad.next(isReply('u1'))) as V2)[4]).toMatchObject({ status: 'error' });
		bad.send([
			null,
			'u2',
			'realtime:not-joined',
			'broadcast',
			{ type: 'broadcast', event: 'e', payload: {} }
		]);
		expect(((await bad.next(isReply('u2'))) as V2)[4]).toEqual({
			status: 'error',
			response: { reason: 'unmatched topic' }
		});

		// The socket and its neighbours still work.
		a.send(['1', '5', 'realtime:calm', 'broadcast', { type: 'broadcast', event: 'e', payload: { ok: 1 } }]);
		const delivered = (await b.next((f) => Array.isArray(f) && f[3] === 'broadcast')) as V2;
		expect(delivered[4]).toEqual({ type: 'broadcast', event: 'e', payload: { ok: 1 } });
		await bad.next((f) => Array.isArray(f) && f[3] === 'broadcast');
		bad.send([null, 'h', 'phoenix', 'heartbeat', {}]);
		await bad.next(isReply('h'));
	});

	test('binary broadcast frames (vsn 2.0.0) round-trip, and JSON payloads reach vsn 1.0.0 sockets', async () => {
		const [a, b] = [await raw(), await raw()];
		const v1 = await raw(stack, '1.0.0');
		await join(a, 'bin', '1');
		await join(b, 'bin', '1');
		v1.send({ topic: 'realtime:bin', event: 'phx_join', payload: { config: {} }, ref: '1', join_ref: '1' });
		await v1.next((f) => (f as { ref?: string }).ref === '1');
		// A kind-3 push exactly as realtime-js encodes it.
		const header = (parts: string[]) => parts.map((p) => Buffer.from(p));
		const [jr, ref, topic, event] = header(['1', '9', 'realtime:bin', 'ping']);
		const payload = Buffer.from(JSON.stringify({ é: '✓' }));
		a.send(
			Buffer.concat([
				Buffer.from([3, jr.length, ref.length, topic.length, event.length, 0, 1]),
				jr,
				ref,
				topic,
				event,
				payload
			])
		);
		const frame = (await b.next((f) => Buffer.isBuffer(f))) as Buffer;
		expect(frame[0]).toBe(4);
		expect(
			frame.equals(
				encodeUserBroadcast('2.0.0', 'realtime:bin', {
					event: 'ping',
					encoding: 'json',
					data: payload
				}) as Buffer
			)
		).toBe(true);
		expect(await v1.next((f) => (f as { event?: string }).event === 'broadcast')).toMatchObject({
			topic: 'realtime:bin',
			payload: { type: 'broadcast', event: 'ping', payload: { é: '✓' } }
		});
		expect(() => decodeBinary(Buffer.from([3, 5, 0, 0, 0, 0, 1]))).toThrow(/truncated/);
	});

	test('oversized payloads are refused; oversized frames close only their socket', async () => {
		const [a, b] = [await raw(), await raw()];
		await join(a, 'big', '1');
		await join(b, 'big', '1');
		a.send([
			'1',
			'2',
			'realtime:big',
			'broadcast',
			{ type: 'broadcast', event: 'e', payload: { x: 'y'.repeat(2000) } }
		]);
		expect(((await a.next(isReply('2'))) as V2)[4]).toEqual({
			status: 'error',
			response: { reason: 'Payload size exceeded' }
		});
		const victim = await raw();
		victim.send('x'.repeat(30_000));
		expect(await victim.closed).toBe(1009);
		a.send([
			'1',
			'3',
			'realtime:big',
			'broadcast',
			{ type: 'broadcast', event: 'e', payload: { small: true } }
		]);
		const got = (await b.next((f) => Array.isArray(f) && f[3] === 'broadcast')) as V2;
		expect(got[4]).toMatchObject({ payload: { small: true } });
		expect(b.frames.filter((f) => Array.isArray(f) && f[3] === 'broadcast')).toHaveLength(1);
	});

	test('too many channels and too many messages per second get Supabase errors', async () => {
		const r = await raw();
		for (const n of ['1', '2', '3']) expect((await join(r, `c${n}`, n))[4].status).toBe('ok');
		expect((await join(r, 'c4', '4'))[4]).toEqual({
			status: 'error',
			response: { reason: 'ChannelRateLimitReached: Too many channels' }
		});
		for (let i = 0; i < 60; i++)
			r.send(['1', `b${i}`, 'realtime:c1', 'broadcast', { type: 'broadcast', event: 'e', payload: {} }]);
		const system = (await r.next(
			(f) => Array.isArray(f) && f[3] === 'system' && f[2] === 'realtime:c1'
		)) as V2;
		expect(system[4]).toEqual({
			status: 'error',
			extension: 'system',
			message: 'Too many messages per second',
			channel: 'c1'
		});
		await r.next((f) => Array.isArray(f) && f[3] === 'phx_close' && f[2] === 'realtime:c1');
		// Only that channel was closed: the socket lives on and the other channels stay joined.
		r.send([null, 'h', 'phoenix', 'heartbeat', {}]);
		await r.next(isReply('h'));
		expect(r.frames.filter((f) => Array.isArray(f) && f[3] === 'phx_close').map((f) => (f as V2)[2])).toEqual(
			['realtime:c1']
		);
	});

	test('postgres_changes joins succeed with a clear system error', async () => {
		const c = realtimeClient(stack);
		const system: { status: string; extension: string; message: string }[] = [];
		const ch = c
			.channel('pg')
			.on('postgres_changes', { event: '*', schema: 'public', table: 'x' }, () => {})
			.on('system', {}, (m) => system.push(m));
		await subscribed(ch);
		await until(() => system.length === 1, 'the system message');
		expect(system[0]).toMatchObject({ status: 'error', extension: 'postgres_changes' });
		expect(system[0].message).toMatch(/postgres_changes is not supported by the embedded stack/);
		await c.removeAllChannels();
	});

	test('private-only projects refuse public joins; silent sockets are dropped', async () => {
		const r = await raw(strict);
		const reply = await join(r, 'pub', '1');
		expect(reply[4]).toEqual({
			status: 'error',
			response: { reason: 'PrivateOnly: This project only allows private channels' }
		});
		// No heartbeat from this socket: the server drops it after the (200 ms) timeout.
		expect(await r.closed).toBeGreaterThan(0);
	});

	test('the socket is refused with an invalid token', async () => {
		const expired = await userToken(stack.config, 'dddddddd-dddd-4ddd-8ddd-dddddddddddd', { expiresIn: -5 });
		const ws = new WebSocket(
			`${stack.apiUrl.replace('http', 'ws')}/realtime/v1/websocket?apikey=${stack.config.anonKey}&vsn=2.0.0`,
			{
				headers: { authorization: `Bearer ${expired}` }
			}
		);
		const status = await new Promise<number>((resolve) =>
			ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
		);
		expect(status).toBe(401);
		ws.on('error', () => {});
		ws.terminate();
	});
});
