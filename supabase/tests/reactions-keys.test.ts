import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
	asActor,
	createUser,
	expectDbError,
	openChatDb,
	randomBase64,
	reactionArgs,
	realtimeRows,
	rpc,
	rpcOne,
	type ChatDb
} from './helpers.ts';

let db: ChatDb;
let n = 0;
const user = () => createUser(db.pool, `r${++n}@example.com`);

beforeAll(async () => {
	db = await openChatDb(20);
});
afterAll(async () => {
	await db.close();
});

async function groupOf(admin: string, members: string[]): Promise<string> {
	return (
		await rpcOne<{ id: string }>(db.pool, admin, 'create_group_conversation', { title: 'G', participant_ids: members })
	).id;
}
/** A message sealed under epoch 1, as devices send them (the epoch a reaction to it must name). */
const send = (actor: string, conversation_id: string, encryption: unknown = { epoch: 1, nonce: 'bm9uY2U=' }) =>
	rpcOne<{ id: string }>(db.pool, actor, 'send_message', { conversation_id, content_encrypted: 'c', encryption });

interface Reaction {
	message_id: string;
	user_id: string;
	emoji: string | null;
	conversation_id: string;
	tag: string;
	emoji_sealed: string;
	nonce: string;
	epoch: number;
	sig: string;
}
const react = (actor: string, args: Record<string, unknown>) => rpcOne<Reaction>(db.pool, actor, 'add_reaction', args);
const reactionsOf = (actor: string, message: string) =>
	rpc<Reaction>(db.pool, actor, 'get_reactions', { message_ids: [message] });
/** Every stored reaction to a message, as the superuser sees them. */
const stored = async (message: string) =>
	(await db.pool.query<Reaction>('select * from public.message_reactions where message_id = $1', [message])).rows;

describe('reactions', () => {
	test('one row per user per tag; a second add with the same tag keeps the first; remove by tag is idempotent', async () => {
		const [a, b] = [await user(), await user()];
		const c = await groupOf(a, [b]);
		const m = await send(a, c);
		const thumbs = reactionArgs(m.id);
		const r1 = await react(b, thumbs);
		expect(r1).toMatchObject({ ...thumbs, user_id: b, conversation_id: c, emoji: null });
		// The same tag again (the same emoji), sealed afresh: the row already there is the answer.
		const again = reactionArgs(m.id, { tag: thumbs.tag });
		expect(await react(b, again)).toEqual(r1);
		expect((await stored(m.id)).filter((r) => r.user_id === b)).toEqual([r1]);
		const family = reactionArgs(m.id);
		await react(b, family);
		// Another member's tag may be the same: one reaction each.
		await react(a, reactionArgs(m.id, { tag: thumbs.tag }));
		expect(await reactionsOf(a, m.id)).toHaveLength(3);
		await rpc(db.pool, b, 'remove_reaction', { message_id: m.id, tag: thumbs.tag });
		await rpc(db.pool, b, 'remove_reaction', { message_id: m.id, tag: thumbs.tag });
		const left = await reactionsOf(b, m.id);
		expect(left.map((r) => `${r.user_id === a ? 'a' : 'b'}:${r.tag}`).sort()).toEqual(
			[`a:${thumbs.tag}`, `b:${family.tag}`].sort()
		);
		// What get_reactions answers is what a device needs to open and check them.
		expect(left.find((r) => r.user_id === b)).toMatchObject(family);
	});

	test('no plaintext is stored: emoji stays null, and not even service_role can write one', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		const m = await send(a, c);
		await react(a, reactionArgs(m.id));
		const rows = await stored(m.id);
		expect(rows).toHaveLength(1);
		expect(rows.every((r) => r.emoji === null)).toBe(true);
		const { rows: any } = await db.pool.query('select count(*)::int as n from public.message_reactions where emoji is not null');
		expect(any[0].n).toBe(0);
		const args = reactionArgs(m.id);
		for (const actor of ['service_role', null] as const) {
			const write = (sql: string, values: unknown[]) =>
				actor ? asActor(db.pool, actor, (cl) => cl.query(sql, values)) : db.pool.query(sql, values);
			await expectDbError(
				write(
					`insert into public.message_reactions (message_id, user_id, conversation_id, tag, emoji_sealed, nonce, epoch, sig, emoji)
					 values ($1, $2, $3, $4, $5, $6, 1, $7, '👍')`,
					[m.id, a, c, args.tag, args.emoji_sealed, args.nonce, args.sig]
				),
				'23514'
			);
			await expectDbError(write(`update public.message_reactions set emoji = '👍' where message_id = $1`, [m.id]), '23514');
		}
		// The broadcast carries the sealed fields only.
		const before = (await realtimeRows(db.pool)).length;
		await react(a, args);
		const [event] = (await realtimeRows(db.pool)).slice(before);
		expect(event.payload).toEqual({
			message_id: m.id,
			user_id: a,
			tag: args.tag,
			emoji_sealed: args.emoji_sealed,
			nonce: args.nonce,
			epoch: 1,
			sig: args.sig,
			op: 'added'
		});
	});

	test('sealed fields must be well formed, and sealed under the message\'s epoch', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		const m = await send(a, c);
		const bad: [Record<string, unknown>, string][] = [
			[{ tag: null }, 'invalid_tag'],
			[{ tag: '' }, 'invalid_tag'],
			[{ tag: '👍' }, 'invalid_tag'],
			[{ tag: randomBase64(31) }, 'invalid_tag'],
			[{ tag: randomBase64(33) }, 'invalid_tag'],
			[{ tag: `${'A'.repeat(42)}!=` }, 'invalid_tag'],
			[{ emoji_sealed: null }, 'invalid_sealed_emoji'],
			[{ emoji_sealed: '👍' }, 'invalid_sealed_emoji'],
			[{ emoji_sealed: randomBase64(8) }, 'invalid_sealed_emoji'],
			[{ emoji_sealed: randomBase64(300) }, 'invalid_sealed_emoji'],
			[{ emoji_sealed: `${randomBase64(80)} ` }, 'invalid_sealed_emoji'],
			[{ nonce: null }, 'invalid_nonce'],
			[{ nonce: randomBase64(12) }, 'invalid_nonce'],
			[{ epoch: null }, 'invalid_epoch'],
			[{ epoch: 0 }, 'invalid_epoch'],
			[{ sig: null }, 'invalid_signature'],
			[{ sig: randomBase64(32) }, 'invalid_signature'],
			// Not the message's epoch: nobody holding that key could read the message.
			[{ epoch: 2 }, 'invalid_epoch']
		];
		for (const [over, detail] of bad) {
			await expectDbError(react(a, reactionArgs(m.id, over)), 'PT400', detail);
		}
		// A message sealed under no epoch has no key to seal a reaction under.
		const plain = await send(a, c, null);
		await expectDbError(react(a, reactionArgs(plain.id)), 'PT400', 'invalid_epoch');
		const later = await send(a, c, { epoch: 3, nonce: 'bm9uY2U=' });
		expect(await react(a, reactionArgs(later.id, { epoch: 3 }))).toMatchObject({ epoch: 3 });
		for (const tag of [null, '', 'x'.repeat(44)]) {
			await expectDbError(rpc(db.pool, a, 'remove_reaction', { message_id: m.id, tag }), 'PT400', 'invalid_tag');
		}
		expect(await stored(m.id)).toEqual([]);
	});

	test('outsiders, removed members and anon can neither add, remove nor read; nobody removes another\'s', async () => {
		const [a, b, gone, outsider] = [await user(), await user(), await user(), await user()];
		const c = await groupOf(a, [b, gone]);
		const m = await send(a, c);
		const mine = reactionArgs(m.id);
		const kept = await react(a, mine);
		await react(gone, reactionArgs(m.id));
		await rpc(db.pool, a, 'remove_participant', { conversation_id: c, user_id: gone });
		for (const actor of [outsider, gone]) {
			await expectDbError(react(actor, reactionArgs(m.id)), 'PT404', 'message_not_found');
			await expectDbError(
				rpc(db.pool, actor, 'remove_reaction', { message_id: m.id, tag: mine.tag }),
				'PT404',
				'message_not_found'
			);
			expect(await reactionsOf(actor, m.id)).toEqual([]);
			const seen = await asActor(db.pool, actor, (cl) => cl.query('select * from public.message_reactions'));
			expect(seen.rows).toEqual([]);
		}
		await expectDbError(react('anon', reactionArgs(m.id)), '42501');
		await expectDbError(rpc(db.pool, 'anon', 'remove_reaction', { message_id: m.id, tag: mine.tag }), '42501');
		await expectDbError(reactionsOf('anon', m.id), '42501');
		await expectDbError(
			asActor(db.pool, 'anon', (cl) => cl.query('select * from public.message_reactions')),
			'42501'
		);
		// A member naming my tag removes only their own reaction with it (none): mine stays.
		await rpc(db.pool, b, 'remove_reaction', { message_id: m.id, tag: mine.tag });
		// Nor can a member write the table directly.
		await expectDbError(
			asActor(db.pool, b, (cl) => cl.query('delete from public.message_reactions where message_id = $1', [m.id])),
			'42501'
		);
		expect((await stored(m.id)).map((r) => r.user_id).sort()).toEqual([a, gone].sort());
		expect((await reactionsOf(b, m.id)).find((r) => r.user_id === a)).toEqual(kept);
	});

	test('no reactions on deleted messages; at most 500 ids', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		const m = await send(a, c);
		await react(a, reactionArgs(m.id));
		await rpc(db.pool, a, 'delete_message', { message_id: m.id });
		await expectDbError(react(a, reactionArgs(m.id)), 'PT409', 'message_deleted');
		await expectDbError(
			rpc(db.pool, a, 'get_reactions', { message_ids: Array.from({ length: 501 }, () => randomUUID()) }),
			'PT400',
			'too_many_ids'
		);
	});
});

describe('key backups', () => {
	const backup = { v: 1, kdf: 'pbkdf2-sha256', salt: 's', iterations: 310000, nonce: 'n', ciphertext: 'c' };

	test('owners create, read, replace and delete their backup; nobody else sees it', async () => {
		const [me, other] = [await user(), await user()];
		await asActor(db.pool, me, (c) =>
			c.query('insert into public.key_backups (user_id, backup) values ($1, $2)', [me, backup])
		);
		await asActor(db.pool, me, (c) =>
			c.query(`update public.key_backups set backup = backup || '{"v":2}' where user_id = $1`, [me])
		);
		const mine = await asActor(db.pool, me, (c) => c.query('select backup from public.key_backups'));
		expect(mine.rows).toEqual([{ backup: { ...backup, v: 2 } }]);
		const theirs = await asActor(db.pool, other, (c) =>
			c.query('select * from public.key_backups where user_id = $1', [me])
		);
		expect(theirs.rows).toEqual([]);
		const overwrite = await asActor(db.pool, other, (c) =>
			c.query(`update public.key_backups set backup = '{}' where user_id = $1`, [me])
		);
		expect(overwrite.rowCount).toBe(0);
		await expectDbError(
			asActor(db.pool, other, (c) =>
				c.query('insert into public.key_backups (user_id, backup) values ($1, $2)', [me, backup])
			),
			'42501'
		);
		const removed = await asActor(db.pool, other, (c) =>
			c.query('delete from public.key_backups where user_id = $1', [me])
		);
		expect(removed.rowCount).toBe(0);
		const deleted = await asActor(db.pool, me, (c) => c.query('delete from public.key_backups where user_id = $1', [me]));
		expect(deleted.rowCount).toBe(1);
	});
});

describe('publish_conversation_keys', () => {
	const keyFor = (user_id: string) => ({ user_id, wrapped_key: `wrapped-${user_id}`, nonce: 'nonce' });

	const keysOf = async (conv: string, epoch: number) =>
		(
			await db.pool.query(
				'select user_id, wrapped_key, wrapped_by from public.conversation_keys where conversation_id = $1 and epoch = $2 order by user_id',
				[conv, epoch]
			)
		).rows;

	test('the first publisher keys an epoch; each member reads only their own row', async () => {
		const [a, b, c] = [await user(), await user(), await user()];
		const conv = await groupOf(a, [b, c]);
		// c has no public key yet: a subset of members is fine.
		await rpc(db.pool, b, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(a), keyFor(b)] });
		const seenByA = await asActor(db.pool, a, (cl) =>
			cl.query('select user_id, epoch, wrapped_key, wrapped_by from public.conversation_keys where conversation_id = $1', [
				conv
			])
		);
		expect(seenByA.rows).toEqual([{ user_id: a, epoch: 1, wrapped_key: `wrapped-${a}`, wrapped_by: b }]);
		// c (no row for the epoch, so no key) may not key it again.
		await expectDbError(
			rpc(db.pool, c, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(a), keyFor(b), keyFor(c)] }),
			'PT409',
			'epoch_keys_exist'
		);
		// a holds the key and shares it with c; existing rows are kept (first wins).
		await rpc(db.pool, a, 'publish_conversation_keys', {
			conversation_id: conv,
			epoch: 1,
			keys: [{ ...keyFor(b), wrapped_key: 'other' }, keyFor(c)]
		});
		expect(await keysOf(conv, 1)).toEqual(
			[
				{ user_id: a, wrapped_key: `wrapped-${a}`, wrapped_by: b },
				{ user_id: b, wrapped_key: `wrapped-${b}`, wrapped_by: b },
				{ user_id: c, wrapped_key: `wrapped-${c}`, wrapped_by: a }
			].sort((x, y) => (x.user_id < y.user_id ? -1 : 1))
		);
	});

	test('members_missing_key: a key holder learns who lacks the current key; key_added tells them when it comes', async () => {
		const [a, b, c, outsider] = [await user(), await user(), await user(), await user()];
		const conv = await groupOf(a, [b, c]);
		await db.pool.query(`update public.profiles set public_key = 'pk-' || id where id = any($1)`, [[a, b, outsider]]);
		await rpc(db.pool, a, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(a)] });
		const missing = async (actor: string) =>
			(await rpc<{ user_id: string; public_key: string; epoch: number }>(db.pool, actor, 'members_missing_key', { conversation_id: conv }))
				.map((r) => `${r.user_id === b ? 'b' : r.user_id === c ? 'c' : '?'}:${r.public_key === `pk-${r.user_id}`}:${r.epoch}`);
		// c has no public key yet, so only b can be given the key; b, without a row, learns nothing.
		expect(await missing(a)).toEqual(['b:true:1']);
		expect(await missing(b)).toEqual([]);
		expect(await missing(outsider)).toEqual([]);
		await expectDbError(rpc(db.pool, 'anon', 'members_missing_key', { conversation_id: conv }), '42501');

		const before = (await realtimeRows(db.pool)).length;
		await rpc(db.pool, a, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(b)] });
		expect(await missing(a)).toEqual([]);
		const sent = (await realtimeRows(db.pool)).slice(before).filter((r) => r.event === 'key_added');
		expect(sent).toEqual([{ topic: `user:${b}`, event: 'key_added', payload: { conversation_id: conv, epoch: 1 }, private: true }]);

		// Once c publishes a public key, the holders see c as missing.
		await db.pool.query(`update public.profiles set public_key = 'pk-' || id where id = $1`, [c]);
		expect(await missing(b)).toEqual(['c:true:1']);
	});

	test('epochs: adding keeps the epoch under the shared history rule, removal moves it; old epochs are refused', async () => {
		const [a, b, c, d] = [await user(), await user(), await user(), await user()];
		const conv = await groupOf(a, [b, c]);
		await rpc(db.pool, a, 'set_history_visibility', { conversation_id: conv, history_visibility: 'shared' });
		await rpc(db.pool, a, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(a), keyFor(b), keyFor(c)] });
		await rpc(db.pool, a, 'add_participant', { conversation_id: conv, user_id: d });
		await rpc(db.pool, b, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(d)] });
		await rpc(db.pool, a, 'set_history_visibility', { conversation_id: conv, history_visibility: 'joined' });
		await rpc(db.pool, a, 'remove_participant', { conversation_id: conv, user_id: c });
		await expectDbError(
			rpc(db.pool, a, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(a)] }),
			'PT409',
			'stale_epoch'
		);
		for (const keys of [
			[keyFor(a), keyFor(c)],
			[keyFor(a), keyFor(randomUUID())],
			[keyFor(a), keyFor(a)]
		]) {
			await expectDbError(
				rpc(db.pool, a, 'publish_conversation_keys', { conversation_id: conv, epoch: 2, keys }),
				'PT400',
				'keys_mismatch'
			);
		}
		for (const keys of [{}, [], [{ user_id: 'nope', wrapped_key: 'k', nonce: 'n' }], [{ user_id: a, wrapped_key: 1, nonce: 'n' }]]) {
			await expectDbError(
				rpc(db.pool, a, 'publish_conversation_keys', { conversation_id: conv, epoch: 2, keys }),
				'PT400',
				'invalid_keys'
			);
		}
		await rpc(db.pool, d, 'publish_conversation_keys', { conversation_id: conv, epoch: 2, keys: [keyFor(a), keyFor(b), keyFor(d)] });
		expect((await keysOf(conv, 2)).map((r) => r.wrapped_by)).toEqual([d, d, d]);
		expect((await keysOf(conv, 1)).map((r) => r.user_id).sort()).toEqual([a, b, c, d].sort());
	});

	test('two members keying a fresh epoch at once: one key wins for everybody', async () => {
		const [a, b, c] = [await user(), await user(), await user()];
		const conv = await groupOf(a, [b, c]);
		const results = await Promise.allSettled(
			[a, b].map((me) =>
				rpc(db.pool, me, 'publish_conversation_keys', {
					conversation_id: conv,
					epoch: 1,
					keys: [a, b, c].map((user_id) => ({ user_id, wrapped_key: `from-${me}`, nonce: 'n' }))
				})
			)
		);
		// The loser either finds its own row already there (a no-op) or is refused; never a second key.
		expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
		const rows = await keysOf(conv, 1);
		expect(rows).toHaveLength(3);
		expect(new Set(rows.map((r) => r.wrapped_by)).size).toBe(1);
	});

	test('outsiders get 404; keys cannot be inserted directly', async () => {
		const [a, outsider] = [await user(), await user()];
		const conv = await groupOf(a, []);
		await expectDbError(
			rpc(db.pool, outsider, 'publish_conversation_keys', { conversation_id: conv, epoch: 1, keys: [keyFor(outsider)] }),
			'PT404',
			'conversation_not_found'
		);
		await expectDbError(
			asActor(db.pool, a, (c) =>
				c.query(
					`insert into public.conversation_keys (conversation_id, epoch, user_id, wrapped_key, nonce) values ($1, 1, $2, 'k', 'n')`,
					[conv, a]
				)
			),
			'42501'
		);
	});
});
