import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { asActor, createUser, openChatDb, rpcOne, type ChatDb } from './helpers.ts';

let db: ChatDb;
let n = 0;
const user = () => createUser(db.pool, `att${++n}@example.com`);

beforeAll(async () => {
	db = await openChatDb(10);
});
afterAll(async () => {
	await db.close();
});

/** Inserts the object row the Storage server would write for an upload by `actor`. */
const upload = (actor: string, name: string) =>
	asActor(db.pool, actor, (c) =>
		c.query(
			`insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
			 values ('attachments', $1, $2::uuid, $2, '{"size": 10}') returning name`,
			[name, actor]
		)
	);
const visible = async (actor: string, name: string) =>
	(
		await asActor(db.pool, actor, (c) =>
			c.query(`select 1 from storage.objects where bucket_id = 'attachments' and name = $1`, [name])
		)
	).rowCount;
const remove = async (actor: string, name: string) =>
	(
		await asActor(db.pool, actor, async (c) => {
			await c.query(`select set_config('storage.can_delete', 'true', true)`);
			return c.query(`delete from storage.objects where bucket_id = 'attachments' and name = $1`, [name]);
		})
	).rowCount;

describe('attachments bucket', () => {
	test('is private, with a size limit and only ciphertext (octet-stream) accepted', async () => {
		const { rows } = await db.pool.query(
			`select public, file_size_limit, allowed_mime_types from storage.buckets where id = 'attachments'`
		);
		expect(rows).toEqual([
			{ public: false, file_size_limit: '10485776', allowed_mime_types: ['application/octet-stream'] }
		]);
	});

	test('participants upload and read a conversation’s objects; outsiders and anon can do neither', async () => {
		const [a, b, outsider] = [await user(), await user(), await user()];
		const conv = (
			await rpcOne<{ id: string }>(db.pool, a, 'create_group_conversation', { title: 'Files', participant_ids: [b] })
		).id;
		const name = `${conv}/${crypto.randomUUID()}`;
		await upload(a, name);
		expect(await visible(b, name)).toBe(1);
		expect(await visible(outsider, name)).toBe(0);
		expect(await visible('anon', name)).toBe(0);
		await expect(upload(outsider, `${conv}/${crypto.randomUUID()}`)).rejects.toThrow(/row-level security/);
		await expect(upload(a, `not-a-conversation/${crypto.randomUUID()}`)).rejects.toThrow(/row-level security/);
		await expect(upload(a, crypto.randomUUID())).rejects.toThrow(/row-level security/);

		// Only the uploader deletes; a removed member loses access.
		expect(await remove(b, name)).toBe(0);
		await rpcOne(db.pool, a, 'remove_participant', { conversation_id: conv, user_id: b });
		expect(await visible(b, name)).toBe(0);
		expect(await remove(a, name)).toBe(1);
	});
});
