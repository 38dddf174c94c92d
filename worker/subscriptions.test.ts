/**
 * The delivery migration's client surface (push_subscriptions RLS and RPCs, the VAPID key RPC,
 * the outbox trigger) and the pure parts of the shared job-handling module.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import {
	createDeliveryDatabase,
	asUser,
	createUser,
	directConversation,
	sendMessage
} from './testing/chat.ts';
import { ensureVapidKeys } from './vapid.ts';
import {
	backoffDelayMs,
	buildPayload,
	classify,
	defaultSettings,
	retryAfterMs
} from '../supabase/functions/_shared/delivery.ts';

const P256DH = 'B' + 'A'.repeat(86);
const AUTH = 'A'.repeat(22);

let db: Awaited<ReturnType<typeof createDeliveryDatabase>>;
let pool: pg.Pool;
let alice: string;
let bob: string;
beforeAll(async () => {
	db = await createDeliveryDatabase();
	pool = db.pool;
	alice = await createUser(pool, 'Alice');
	bob = await createUser(pool, 'Bob');
});
afterAll(() => db.drop());

const save = (user: string, endpoint: string, p256dh = P256DH, auth = AUTH) =>
	asUser(pool, user, async (c) => {
		const { rows } = await c.query('select * from public.save_push_subscription($1, $2, $3, $4)', [
			endpoint,
			p256dh,
			auth,
			'Firefox'
		]);
		return rows[0];
	});

describe('push subscriptions', () => {
	it('saves, refreshes and shows each user only their own subscriptions', async () => {
		const first = await save(alice, 'https://push.example.test/a1');
		expect(first).toMatchObject({ user_id: alice, user_agent: 'Firefox' });
		const again = await save(alice, 'https://push.example.test/a1', 'B' + 'C'.repeat(86));
		expect(again.id).toBe(first.id);
		expect(again.p256dh).toBe('B' + 'C'.repeat(86));
		await save(bob, 'https://push.example.test/b1');

		const mine = await asUser(pool, alice, (c) => c.query('select endpoint from public.push_subscriptions'));
		expect(mine.rows).toEqual([{ endpoint: 'https://push.example.test/a1' }]);
		// Bob cannot delete Alice's row, directly or through the RPC.
		await asUser(pool, bob, async (c) => {
			await c.query('delete from public.push_subscriptions where user_id = $1', [alice]);
			await c.query('select public.delete_push_subscription($1)', ['https://push.example.test/a1']);
		});
		const all = await pool.query('select user_id from public.push_subscriptions order by user_id = $1', [
			bob
		]);
		expect(all.rows).toEqual([{ user_id: alice }, { user_id: bob }]);
		// Direct inserts are not allowed; saving goes through the RPC.
		await expect(
			asUser(pool, alice, (c) =>
				c.query(
					'insert into public.push_subscriptions (user_id, endpoint, p256dh, auth) values ($1, $2, $3, $4)',
					[alice, 'https://push.example.test/x', P256DH, AUTH]
				)
			)
		).rejects.toThrow(/permission denied/);
		await asUser(pool, alice, (c) =>
			c.query('select public.delete_push_subscription($1)', ['https://push.example.test/a1'])
		);
		const left = await pool.query('select user_id from public.push_subscriptions');
		expect(left.rows).toEqual([{ user_id: bob }]);
	});

	it('moves an endpoint to the account that saves it last (same browser, new sign-in)', async () => {
		await save(alice, 'https://push.example.test/shared');
		const moved = await save(bob, 'https://push.example.test/shared');
		expect(moved.user_id).toBe(bob);
		const { rows } = await pool.query(
			`select count(*)::int as n from public.push_subscriptions where endpoint like '%shared'`
		);
		expect(rows[0].n).toBe(1);
	});

	it('rejects malformed subscriptions and anonymous callers', async () => {
		await expect(save(alice, 'http://evil.example.test/x')).rejects.toMatchObject({ code: 'PT400' });
		await expect(save(alice, 'https://push.example.test/k', 'short')).rejects.toMatchObject({
			code: 'PT400'
		});
		await expect(save(alice, 'https://push.example.test/k', P256DH, 'x')).rejects.toMatchObject({
			code: 'PT400'
		});
		const client = await pool.connect();
		try {
			await client.query('begin');
			await client.query('set local role anon');
			await expect(
				client.query('select public.save_push_subscription($1, $2, $3)', [
					'https://push.example.test/z',
					P256DH,
					AUTH
				])
			).rejects.toThrow(/permission denied/);
		} finally {
			await client.query('rollback');
			client.release();
		}
	});

	it('exposes only the VAPID public key, and only to signed-in users', async () => {
		const before = await asUser(pool, alice, (c) => c.query('select public.get_vapid_public_key() as k'));
		expect(before.rows[0].k).toBeNull();
		const keys = await ensureVapidKeys(pool, () => ({ publicKey: 'pub-1', privateKey: 'priv-1' }));
		expect(keys).toMatchObject({ publicKey: 'pub-1', created: true });
		// A second start keeps the stored pair.
		const again = await ensureVapidKeys(pool, () => ({ publicKey: 'pub-2', privateKey: 'priv-2' }));
		expect(again).toMatchObject({ publicKey: 'pub-1', privateKey: 'priv-1', created: false });
		const after = await asUser(pool, alice, (c) => c.query('select public.get_vapid_public_key() as k'));
		expect(after.rows[0].k).toBe('pub-1');
		await expect(asUser(pool, alice, (c) => c.query('select * from delivery.vapid_keys'))).rejects.toThrow(
			/permission denied/
		);
	});

	it('writes an outbox row in the sending transaction, and none if it rolls back', async () => {
		const conversation = await directConversation(pool, alice, bob);
		await pool.query('delete from delivery.outbox');
		await expect(
			asUser(pool, alice, async (c) => {
				await c.query(
					`select public.send_message($1, 'x', 'text', null, null, null, '{"epoch":1,"nonce":"bg=="}')`,
					[conversation]
				);
				throw new Error('client gave up');
			})
		).rejects.toThrow('client gave up');
		expect((await pool.query('select count(*)::int as n from delivery.outbox')).rows[0].n).toBe(0);
		const seq = await sendMessage(pool, alice, conversation, 'y');
		const { rows } = await pool.query('select conversation_id, sender_id, seq from delivery.outbox');
		expect(rows).toEqual([{ conversation_id: conversation, sender_id: alice, seq: String(seq) }]);
		await expect(asUser(pool, alice, (c) => c.query('select * from delivery.outbox'))).rejects.toThrow(
			/permission denied/
		);
	});
});

describe('job handling (shared module)', () => {
	it('sorts push service answers', () => {
		expect(classify({ status: 201 })).toEqual({ kind: 'sent', status: 201 });
		expect(classify({ status: 410 }).kind).toBe('gone');
		expect(classify({ status: 404 }).kind).toBe('gone');
		expect(classify({ status: 500 }).kind).toBe('retry');
		expect(classify({ status: 429, retryAfter: '7' })).toMatchObject({ kind: 'retry', retryAfterMs: 7000 });
		expect(classify({ error: 'ECONNRESET' })).toMatchObject({ kind: 'retry', error: 'ECONNRESET' });
		expect(classify({ error: 'aborted', timeout: true })).toMatchObject({ kind: 'retry', error: 'timeout' });
		expect(classify({ status: 403, body: 'bad jwt' })).toMatchObject({ kind: 'permanent', status: 403 });
	});

	it('reads Retry-After in seconds or as an HTTP date', () => {
		const now = Date.parse('2026-01-01T00:00:00Z');
		expect(retryAfterMs('120', now)).toBe(120_000);
		expect(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
		expect(retryAfterMs('soon', now)).toBeUndefined();
		expect(retryAfterMs(null, now)).toBeUndefined();
	});

	it('backs off exponentially from the base, never sooner than Retry-After', () => {
		const s = { ...defaultSettings, backoffMs: 2000 };
		expect([1, 2, 3].map((n) => backoffDelayMs(s, n))).toEqual([2000, 4000, 8000]);
		expect(backoffDelayMs(s, 1, 10_000)).toBe(10_000);
	});

	it('builds a payload that names the sender and the conversation only', () => {
		const row = {
			conversation_id: 'c1',
			conversation_kind: 'direct',
			conversation_title: null,
			sender_name: 'Ann',
			unread: 3,
			target_seq: '9'
		};
		expect(buildPayload(row)).toMatchObject({
			title: 'Ann',
			body: '3 new messages',
			seq: 9,
			url: '/c/c1',
			count: 3
		});
		expect(
			buildPayload({ ...row, conversation_kind: 'group', conversation_title: 'Team', unread: 150 })
		).toMatchObject({
			title: 'Team',
			body: 'Ann: 99+ new messages'
		});
		expect(buildPayload(row).mentioned).toBe(false);
	});

	it('says when the push is about a mention of the recipient', () => {
		const row = {
			conversation_id: 'c1',
			conversation_kind: 'group',
			conversation_title: 'Team',
			sender_name: 'Ann',
			unread: 1,
			target_seq: 4,
			mentioned: true
		};
		expect(buildPayload(row)).toMatchObject({ title: 'Team', body: 'Ann mentioned you', mentioned: true });
		expect(buildPayload({ ...row, unread: 3 }).body).toBe('3 new messages, one mentions you');
	});
});
