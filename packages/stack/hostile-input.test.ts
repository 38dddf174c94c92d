/**
 * Hostile input against the whole gateway, as an attacker sends it: JSON nested thousands of
 * levels deep in a REST body, an RPC body, an Auth body, Storage metadata and a Realtime frame.
 * Each gets a clean 4xx (or a `system` error on the socket, which stays usable) and writes nothing.
 */
import { createClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { JsonDepthError, MAX_JSON_DEPTH, parseJson } from './http.ts';
import { startTestStack, type TestStack } from './testing/index.ts';

let stack: TestStack;
const deep = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

beforeAll(async () => {
	stack = await startTestStack({ template: 'platform' });
	await stack.db.query(`create table public.notes (id serial primary key, body jsonb);
		grant all on public.notes to anon, authenticated; grant usage on sequence public.notes_id_seq to anon, authenticated;
		create function public.echo(body jsonb) returns jsonb language sql as 'select body';
		notify pgrst, 'reload schema'`);
});
afterAll(async () => {
	await stack?.stop();
});

describe('parseJson', () => {
	test('refuses nesting past the limit in one pass, and ignores brackets inside strings', () => {
		expect(parseJson(deep(MAX_JSON_DEPTH))).toBeTypeOf('object');
		expect(() => parseJson(deep(MAX_JSON_DEPTH + 1))).toThrow(JsonDepthError);
		expect(() => parseJson(deep(100_000))).toThrow(JsonDepthError);
		expect(parseJson(JSON.stringify({ s: '[[[[{{{{\\"' + '['.repeat(200) }))).toMatchObject({
			s: expect.any(String)
		});
		expect(() => parseJson('{not json')).toThrow(SyntaxError);
	});
});

describe('deep JSON everywhere gets a 4xx and writes nothing', () => {
	const headers = () => ({
		apikey: stack.anonKey,
		authorization: `Bearer ${stack.anonKey}`,
		'content-type': 'application/json'
	});

	test('REST insert and RPC: 400 PGRST102', async () => {
		for (const path of ['/rest/v1/notes', '/rest/v1/rpc/echo']) {
			const response = await fetch(`${stack.apiUrl}${path}`, {
				method: 'POST',
				headers: headers(),
				body: `{"body":${deep(5000)}}`
			});
			expect(response.status, path).toBe(400);
			expect(await response.json()).toMatchObject({
				code: 'PGRST102',
				details: expect.stringContaining('nested deeper')
			});
		}
		// Within the limit it works, so the refusal is about depth.
		const fine = await fetch(`${stack.apiUrl}/rest/v1/rpc/echo`, {
			method: 'POST',
			headers: headers(),
			body: `{"body":${deep(10)}}`
		});
		expect(fine.status).toBe(200);
		expect((await stack.db.query('select count(*)::int as n from public.notes')).rows[0].n).toBe(0);
	});

	test('Auth sign-up: 400, and no user', async () => {
		const response = await fetch(`${stack.apiUrl}/auth/v1/signup`, {
			method: 'POST',
			headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
			body: `{"email":"deep@example.test","password":"a-long-password-1","data":${deep(5000)}}`
		});
		expect(response.status).toBe(400);
		expect(
			(await stack.db.query(`select count(*)::int as n from auth.users where email = 'deep@example.test'`))
				.rows[0].n
		).toBe(0);
	});

	test('Storage object metadata and JSON bodies: 400, and no object', async () => {
		const admin = createClient(stack.apiUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
		expect((await admin.storage.createBucket('deep')).error).toBeNull();
		const upload = await fetch(`${stack.apiUrl}/storage/v1/object/deep/a.txt`, {
			method: 'POST',
			headers: {
				apikey: stack.serviceRoleKey,
				authorization: `Bearer ${stack.serviceRoleKey}`,
				'content-type': 'text/plain',
				'x-metadata': Buffer.from(deep(1000)).toString('base64')
			},
			body: 'hello'
		});
		expect(upload.status).toBe(400);
		const list = await fetch(`${stack.apiUrl}/storage/v1/object/list/deep`, {
			method: 'POST',
			headers: {
				apikey: stack.serviceRoleKey,
				authorization: `Bearer ${stack.serviceRoleKey}`,
				'content-type': 'application/json'
			},
			body: `{"prefix":"","x":${deep(5000)}}`
		});
		expect(list.status).toBe(400);
		expect(
			(await stack.db.query(`select count(*)::int as n from storage.objects where bucket_id = 'deep'`))
				.rows[0].n
		).toBe(0);
	});

	test('Realtime HTTP broadcast: 422 for a deep payload', async () => {
		const response = await fetch(`${stack.apiUrl}/realtime/v1/api/broadcast`, {
			method: 'POST',
			headers: headers(),
			body: `{"messages":[{"topic":"x","event":"e","payload":${deep(5000)}}]}`
		});
		expect(response.status).toBe(422);
	});

	test('Realtime: a deep frame is a system error and the socket keeps working', async () => {
		const ws = new WebSocket(
			`${stack.apiUrl.replace('http', 'ws')}/realtime/v1/websocket?apikey=${stack.anonKey}&vsn=2.0.0`
		);
		const frames: unknown[][] = [];
		ws.on('message', (data) => frames.push(JSON.parse(String(data)) as unknown[]));
		await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
		ws.send(`[null,"1","realtime:x","broadcast",${deep(5000)}]`);
		ws.send(JSON.stringify([null, '2', 'phoenix', 'heartbeat', {}]));
		const deadline = Date.now() + 5000;
		while (frames.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
		expect(frames[0]).toEqual([
			null,
			null,
			'phoenix',
			'system',
			expect.objectContaining({ status: 'error', message: expect.stringContaining('nested deeper') })
		]);
		expect(frames[1]).toEqual([null, '2', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
		ws.close();
	});
});
