import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { asActor, createUser, expectDbError, openChatDb, rpcOne, type ChatDb } from './helpers.ts';

let db: ChatDb;
beforeAll(async () => {
	db = await openChatDb();
});
afterAll(async () => {
	await db.close();
});

async function profileOf(id: string) {
	const { rows } = await db.pool.query('select * from public.profiles where id = $1', [id]);
	return rows[0];
}

describe('profiles trigger on auth.users', () => {
	test('takes a valid, free username from the metadata (lowercased) and the display name', async () => {
		const id = await createUser(db.pool, 'ada@example.com', { username: 'Ada_L', display_name: 'Ada Lovelace' });
		expect(await profileOf(id)).toMatchObject({ id, username: 'ada_l', display_name: 'Ada Lovelace' });
	});

	test('derives the username from the email when the metadata has none or an invalid one', async () => {
		const a = await createUser(db.pool, 'Grace.Hopper+navy@example.com');
		expect((await profileOf(a)).username).toBe('grace_hopper_navy');
		const b = await createUser(db.pool, 'linus@example.com', { username: 'no spaces allowed!' });
		expect((await profileOf(b)).username).toBe('linus');
		const c = await createUser(db.pool, 'x@example.com');
		expect((await profileOf(c)).username).toMatch(/^userx$/);
	});

	test('adds a suffix until the username is unique, also when the wanted one is taken', async () => {
		const first = await createUser(db.pool, 'sam@example.com');
		const second = await createUser(db.pool, 'sam@other.example', { username: 'sam' });
		const third = await createUser(db.pool, 'sam@third.example');
		const names = [first, second, third].map(async (id) => (await profileOf(id)).username);
		expect(await Promise.all(names)).toEqual(['sam', 'sam_2', 'sam_3']);
	});

	test('derived usernames stay within 32 characters', async () => {
		const long = 'a'.repeat(60);
		const one = await createUser(db.pool, `${long}@example.com`);
		const two = await createUser(db.pool, `${long}@example.org`);
		expect((await profileOf(one)).username).toBe('a'.repeat(24));
		expect((await profileOf(two)).username).toBe(`${'a'.repeat(24)}_2`);
	});
});

describe('profiles access', () => {
	test('signed-in users read every profile; anon reads none', async () => {
		const me = await createUser(db.pool, 'reader@example.com');
		const seen = await asActor(db.pool, me, (c) => c.query('select count(*)::int as n from public.profiles'));
		const total = await db.pool.query('select count(*)::int as n from public.profiles');
		expect(seen.rows[0].n).toBe(total.rows[0].n);
		await expectDbError(
			asActor(db.pool, 'anon', (c) => c.query('select * from public.profiles')),
			'42501'
		);
	});

	test('users update their own display name and public key, not anyone else’s', async () => {
		const me = await createUser(db.pool, 'owner@example.com');
		const other = await createUser(db.pool, 'victim@example.com', { display_name: 'Victim' });
		const key = 'A'.repeat(43) + '=';
		const mine = await asActor(db.pool, me, (c) =>
			c.query(`update public.profiles set display_name = 'Me', public_key = $1 where id = $2`, [key, me])
		);
		expect(mine.rowCount).toBe(1);
		expect(await profileOf(me)).toMatchObject({ display_name: 'Me', public_key: key });
		const theirs = await asActor(db.pool, me, (c) =>
			c.query(`update public.profiles set display_name = 'pwned' where id = $1`, [other])
		);
		expect(theirs.rowCount).toBe(0);
		expect((await profileOf(other)).display_name).toBe('Victim');
	});

	test('id and created_at are not writable; insert and delete are refused', async () => {
		const me = await createUser(db.pool, 'locked@example.com');
		await expectDbError(
			asActor(db.pool, me, (c) =>
				c.query(`update public.profiles set created_at = now() - interval '1 year' where id = $1`, [me])
			),
			'42501'
		);
		await expectDbError(
			asActor(db.pool, me, (c) =>
				c.query(`insert into public.profiles (id, username) values (gen_random_uuid(), 'forged')`)
			),
			'42501'
		);
		await expectDbError(
			asActor(db.pool, me, (c) => c.query('delete from public.profiles where id = $1', [me])),
			'42501'
		);
	});

	test('usernames must be lowercase [a-z0-9_]{3,32} and unique', async () => {
		const me = await createUser(db.pool, 'renamer@example.com');
		await createUser(db.pool, 'taken@example.com', { username: 'taken_name' });
		await expectDbError(
			asActor(db.pool, me, (c) => c.query(`update public.profiles set username = 'Bad Name' where id = $1`, [me])),
			'23514'
		);
		await expectDbError(
			asActor(db.pool, me, (c) => c.query(`update public.profiles set username = 'taken_name' where id = $1`, [me])),
			'23505'
		);
		await asActor(db.pool, me, (c) => c.query(`update public.profiles set username = 'renamed_ok' where id = $1`, [me]));
		expect((await profileOf(me)).username).toBe('renamed_ok');
	});

	test('updated_at moves on update', async () => {
		const me = await createUser(db.pool, 'clock@example.com');
		await db.pool.query(`update public.profiles set updated_at = '2000-01-01' where id = $1`, [me]);
		await asActor(db.pool, me, (c) => c.query(`update public.profiles set display_name = 'x' where id = $1`, [me]));
		expect((await profileOf(me)).updated_at.getFullYear()).toBeGreaterThan(2000);
	});
});

describe('find_profile', () => {
	test('finds a profile by username, case-insensitively', async () => {
		const me = await createUser(db.pool, 'finder@example.com');
		const target = await createUser(db.pool, 'findme@example.com', { username: 'find_me' });
		const found = await rpcOne(db.pool, me, 'find_profile', { username: ' Find_Me ' });
		expect(found).toMatchObject({ id: target, username: 'find_me' });
	});

	test('404 user_not_found for an unknown username; anon may not call it', async () => {
		const me = await createUser(db.pool, 'finder2@example.com');
		await expectDbError(rpcOne(db.pool, me, 'find_profile', { username: 'nobody_here' }), 'PT404', 'user_not_found');
		await expectDbError(rpcOne(db.pool, 'anon', 'find_profile', { username: 'find_me' }), '42501');
	});
});
