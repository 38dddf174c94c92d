import { expect, test } from '@playwright/test';
import pg from 'pg';
import { V1_BACKUP } from '#lib/crypto/testing/v1-backup.ts';
import { signingPublicKeyOf } from '#lib/crypto/signing.ts';
import { signIn, userSession } from './helpers';
import { DB_PORT } from './ports.ts';

test.describe.configure({ timeout: 180_000 });

test('an old PBKDF2 backup opens on a new device and is re-sealed with Argon2id', async ({ browser }) => {
	const first = await userSession(browser, 'Ola');
	await first.context.close();
	const db = new pg.Client({
		host: '127.0.0.1',
		port: DB_PORT,
		user: 'postgres',
		password: 'postgres',
		database: 'postgres'
	});
	await db.connect();
	try {
		// The account as an older Parley left it: its identity is the one sealed in a v1 backup.
		await db.query('update public.profiles set public_key = $2, signing_key = $3 where username = $1', [
			first.user.username,
			V1_BACKUP.publicKey,
			signingPublicKeyOf(V1_BACKUP.secretKey)
		]);
		await db.query(
			`insert into public.key_backups (user_id, backup)
			 select id, $2 from public.profiles where username = $1
			 on conflict (user_id) do update set backup = excluded.backup`,
			[first.user.username, V1_BACKUP.backup]
		);

		const device = await browser.newContext();
		const page = await device.newPage();
		await signIn(page, first.user);
		await page.getByRole('link', { name: /Your profile/ }).click();
		await page.getByLabel('Backup passphrase').fill(V1_BACKUP.passphrase);
		await page.getByRole('button', { name: 'Restore keys' }).click();
		await expect(page.getByRole('status').filter({ hasText: 'Keys restored' })).toBeVisible({
			timeout: 20_000
		});
		await expect
			.poll(
				async () =>
					(
						await db.query(
							`select b.backup ->> 'kdf' as kdf, (b.backup ->> 'v')::int as v from public.key_backups b
							 join public.profiles p on p.id = b.user_id where p.username = $1`,
							[first.user.username]
						)
					).rows[0],
				{ timeout: 20_000 }
			)
			.toEqual({ kdf: 'argon2id', v: 2 });
		await device.close();
	} finally {
		await db.end();
	}
});
