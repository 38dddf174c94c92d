import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { asActor, createUser, expectDbError, openChatDb, type ChatDb } from './helpers.ts';

let db: ChatDb;
beforeAll(async () => {
	db = await openChatDb();
});
afterAll(async () => {
	await db.close();
});

// 32 bytes in base64, like a real Ed25519 / X25519 public key.
const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');

function publish(actor: string, user: string, publicKey: string, signingKey: string) {
	return asActor(db.pool, actor, (c) =>
		c.query('update public.profiles set public_key = $2, signing_key = $3 where id = $1', [
			user,
			publicKey,
			signingKey
		])
	);
}

async function history(user: string) {
	const { rows } = await db.pool.query(
		'select signing_key, public_key from public.identity_keys where user_id = $1 order by created_at',
		[user]
	);
	return rows;
}

describe('signing keys and the identity history', () => {
	test('publishing an identity records it; a reset adds the new one and keeps the old', async () => {
		const ana = await createUser(db.pool, 'ana.sign@example.com');
		await publish(ana, ana, key(1), key(2));
		expect(await history(ana)).toEqual([{ signing_key: key(2), public_key: key(1) }]);
		// Publishing the same identity again (another device of Ana's) adds nothing.
		await publish(ana, ana, key(1), key(2));
		await publish(ana, ana, key(3), key(4));
		expect(await history(ana)).toEqual([
			{ signing_key: key(2), public_key: key(1) },
			{ signing_key: key(4), public_key: key(3) }
		]);
		const seen = await asActor(db.pool, await createUser(db.pool, 'reader.sign@example.com'), (c) =>
			c.query('select signing_key from public.identity_keys where user_id = $1', [ana])
		);
		expect(seen.rows).toHaveLength(2);
	});

	test('nobody writes the history directly, or another user’s signing key; anon reads nothing', async () => {
		const ben = await createUser(db.pool, 'ben.sign@example.com');
		const eve = await createUser(db.pool, 'eve.sign@example.com');
		await publish(ben, ben, key(5), key(6));
		// Eve's update of Ben's profile matches no row she may update: nothing changes.
		await publish(eve, ben, key(7), key(8));
		expect(await history(ben)).toEqual([{ signing_key: key(6), public_key: key(5) }]);
		await expectDbError(
			asActor(db.pool, eve, (c) =>
				c.query('insert into public.identity_keys (user_id, signing_key) values ($1, $2)', [ben, key(9)])
			),
			'42501'
		);
		await expectDbError(
			asActor(db.pool, ben, (c) =>
				c.query('update public.identity_keys set signing_key = $2 where user_id = $1', [ben, key(9)])
			),
			'42501'
		);
		await expectDbError(
			asActor(db.pool, ben, (c) => c.query('delete from public.identity_keys where user_id = $1', [ben])),
			'42501'
		);
		await expectDbError(
			asActor(db.pool, 'anon', (c) => c.query('select * from public.identity_keys')),
			'42501'
		);
	});

	test('a signing key must look like an Ed25519 public key', async () => {
		const cleo = await createUser(db.pool, 'cleo.sign@example.com');
		await expectDbError(publish(cleo, cleo, key(1), 'not a key'), '23514');
		await expectDbError(publish(cleo, cleo, key(1), Buffer.alloc(64).toString('base64')), '23514');
	});
});
