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
import { REPLICATION_APPLICATION_NAME, withId } from './db-broadcast.ts';

let stack: RealtimeTestStack;
const clients: SupabaseClient[] = [];
const USER = '22222222-2222-4222-8222-222222222222';

beforeAll(async () => {
	stack = await startRealtimeStack({ realtime: { replicationStatusMs: 100 } });
	// Fixture: a table whose changes are broadcast to private `items:<id>` topics, readable by any
	// signed-in user through a policy on realtime.messages.
	await stack.db.query(`
		create table public.items (id int primary key, name text);
		create function public.items_broadcast() returns trigger language plpgsql as $$
		begin
		  perform realtime.broadcast_changes('items:' || coalesce(new.id, old.id), tg_op, tg_op,
		    tg_table_name, tg_table_schema, new, old);
		  return null;
		end $$;
		create trigger items_broadcast after insert or update or delete on public.items
		  for each row execute function public.items_broadcast();
		create policy "signed-in users read items topics" on realtime.messages for select to authenticated
		  using (realtime.topic() like 'items:%');
	`);
});
afterAll(async () => {
	await Promise.all(clients.map((c) => c.removeAllChannels()));
	await stack.stop();
});

type Received = { type: string; event: string; payload: Record<string, unknown>; meta?: { id: string } };

async function listen(topic: string, isPrivate: boolean, token?: string): Promise<Received[]> {
	const client = realtimeClient(stack, token);
	clients.push(client);
	const got: Received[] = [];
	await subscribed(
		client
			.channel(topic, { config: { private: isPrivate } })
			.on('broadcast', { event: '*' }, (m) => got.push(m as Received))
	);
	return got;
}

describe('withId', () => {
	test('adds the message id to an object payload without one, and leaves everything else as sent', () => {
		expect(JSON.parse(withId('{"n": 1}', 'a'))).toEqual({ n: 1, id: 'a' });
		expect(withId('{"id": "mine", "n": 1}', 'a')).toBe('{"id": "mine", "n": 1}');
		expect(withId('[1, 2]', 'a')).toBe('[1, 2]');
		expect(withId(null, 'a')).toBe('{"id":"a"}');
	});
});

describe('broadcast from the database', () => {
	test('a trigger calling realtime.broadcast_changes() reaches private subscribers, in Supabase shape', async () => {
		const got = await listen('items:7', true, await userToken(stack.config, USER));
		const publicJoin = await listen('items:7', false);
		await stack.db.query(`insert into public.items values (7, 'seven')`);
		await stack.db.query(`update public.items set name = 'SEVEN' where id = 7`);
		await stack.db.query(`delete from public.items where id = 7`);
		await until(() => got.length === 3, 'three changes');
		const [insert, update, del] = got;
		expect(insert).toMatchObject({
			type: 'broadcast',
			event: 'INSERT',
			payload: {
				operation: 'INSERT',
				table: 'items',
				schema: 'public',
				record: { id: 7, name: 'seven' },
				old_record: null
			}
		});
		// As on Supabase: the message id is in the payload and in meta.
		expect(insert.payload.id).toEqual(insert.meta?.id);
		const { rows } = await stack.db.query('select id from realtime.messages where id = $1', [
			insert.meta?.id
		]);
		expect(rows).toHaveLength(1);
		expect(update.payload).toMatchObject({
			operation: 'UPDATE',
			record: { name: 'SEVEN' },
			old_record: { name: 'seven' }
		});
		expect(del.payload).toMatchObject({ operation: 'DELETE', record: null, old_record: { id: 7 } });
		// The message was private: the public join of the same name saw none of it.
		expect(publicJoin).toEqual([]);
	});

	test('realtime.send() messages arrive once each, in commit order; rolled-back ones never', async () => {
		const got = await listen('feed', false);
		const expected: number[] = [];
		// Committed one by one from different connections, and several in one transaction.
		for (let n = 1; n <= 15; n++) {
			await stack.db.query(`select realtime.send(jsonb_build_object('n', $1::int), 'tick', 'feed', false)`, [
				n
			]);
			expected.push(n);
		}
		const client = await stack.db.connect();
		try {
			await client.query('begin');
			for (let n = 16; n <= 20; n++) {
				await client.query(`select realtime.send(jsonb_build_object('n', $1::int), 'tick', 'feed', false)`, [
					n
				]);
				expected.push(n);
			}
			await client.query('commit');
			await client.query('begin');
			await client.query(`select realtime.send('{"n": -1}'::jsonb, 'tick', 'feed', false)`);
			await client.query('rollback');
		} finally {
			client.release();
		}
		await stack.db.query(`select realtime.send('{"n": 21}'::jsonb, 'tick', 'feed', false)`);
		expected.push(21);
		await until(() => got.some((m) => m.payload.n === 21), 'the last message');
		expect(got.map((m) => m.payload.n)).toEqual(expected);
		expect(new Set(got.map((m) => m.meta?.id)).size).toBe(expected.length);
	});

	test('rows one statement inserts arrive once each, in insertion order', async () => {
		const got = await listen('bulk', false);
		await stack.db.query(`
			insert into realtime.messages (topic, extension, event, payload, private)
			select 'bulk', 'broadcast', 'n', jsonb_build_object('n', n), false
			from generate_series(1, 450) n order by n`);
		await until(() => got.length === 450, '450 messages');
		expect(got.map((m) => m.payload.n)).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
		expect(new Set(got.map((m) => m.meta?.id)).size).toBe(450);
	});

	test('large (TOASTed) payloads arrive whole and keep their place among the others', async () => {
		const got = await listen('mixed', false);
		const big = 'x'.repeat(20_000);
		await stack.db.query(`
			insert into realtime.messages (topic, extension, event, payload, private)
			select 'mixed', 'broadcast', 'n', jsonb_build_object('n', n, 'fill', case when n % 3 = 0 then '${big}' else 'small' end), false
			from generate_series(1, 9) n order by n`);
		await until(() => got.length === 9, 'nine messages');
		expect(got.map((m) => m.payload.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
		expect(got.filter((m) => m.payload.fill === big).map((m) => m.payload.n)).toEqual([3, 6, 9]);
		for (const m of got) expect(m.payload.id).toBe(m.meta?.id);
	});

	test('the replication connection reconnects after it is killed, with a new temporary slot', async () => {
		const got = await listen('after-kill', false);
		// Slots are cluster-wide and test databases share a cluster: only this database's count.
		const streaming = `select r.pid, s.slot_name, s.temporary from pg_stat_replication r
			join pg_replication_slots s on s.active_pid = r.pid
			where r.application_name = $1 and r.state = 'streaming' and s.database = current_database()`;
		const before = await stack.db.query(streaming, [REPLICATION_APPLICATION_NAME]);
		expect(before.rows).toHaveLength(1);
		expect(before.rows[0].temporary).toBe(true);
		await stack.db.query('select pg_terminate_backend($1)', [before.rows[0].pid]);
		let after: { pid: number; slot_name: string }[] = [];
		await until(
			async () => {
				after = (await stack.db.query(streaming, [REPLICATION_APPLICATION_NAME])).rows;
				return after.length === 1 && after[0].pid !== before.rows[0].pid;
			},
			'a new replication connection',
			15_000
		);
		expect(after).toHaveLength(1);
		expect(after[0].pid).not.toBe(before.rows[0].pid);
		// The old session's temporary slot went with it.
		const slots = await stack.db.query(
			`select slot_name from pg_replication_slots where database = current_database()`
		);
		expect(slots.rows.map((r) => r.slot_name)).toEqual([after[0].slot_name]);
		await stack.db.query(`select realtime.send('{"back": true}'::jsonb, 'e', 'after-kill', false)`);
		await until(() => got.length === 1, 'a message after reconnecting');
		expect(got[0].payload).toMatchObject({ back: true });
	});

	test('the slot confirms what was delivered, so the server can recycle the WAL behind it', async () => {
		const got = await listen('confirmed', false);
		await stack.db.query(`select realtime.send('{"n": 1}'::jsonb, 'e', 'confirmed', false)`);
		const { rows } = await stack.db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
		await until(() => got.length === 1, 'the message');
		let confirmed = false;
		await until(
			async () => {
				const slot = await stack.db.query(
					`select confirmed_flush_lsn >= $1::pg_lsn as ok from pg_replication_slots
					 where database = current_database() and active`,
					[rows[0].lsn]
				);
				return (confirmed = slot.rows[0]?.ok === true);
			},
			'the slot to confirm the message',
			5000
		).catch(() => {});
		expect(confirmed).toBe(true);
	});

	test('the janitor deletes messages past the retention window', async () => {
		await stack.db.query(`
			insert into realtime.messages (topic, extension, event, payload, inserted_at)
			values ('old', 'broadcast', 'e', '{}', now() - interval '4 days'),
			       ('new', 'broadcast', 'e', '{}', now())`);
		expect(await stack.service.purge()).toBeGreaterThanOrEqual(1);
		const { rows } = await stack.db.query(
			`select topic from realtime.messages where topic in ('old', 'new')`
		);
		expect(rows.map((r) => r.topic)).toEqual(['new']);
	});
});
