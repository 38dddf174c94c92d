import { expect, test } from '@playwright/test';
import pg from 'pg';
import { createGroup, message, openConversation, send, startDirect, userSession } from './helpers';
import { DB_PORT } from './ports.ts';

// Several people in several browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

test('the database holds no plaintext of the messages sent, nor of the reactions', async ({ browser }) => {
	const alice = await userSession(browser, 'Pia');
	const bob = await userSession(browser, 'Pat');
	const marker = `plaintext-canary-${Math.random().toString(36).slice(2, 10)}`;
	const texts = [`${marker} direct`, `${marker} edited`, `${marker} group`];

	await startDirect(alice.page, bob.user.username);
	await send(alice.page, texts[0]);
	await expect(message(alice.page, texts[0])).toHaveAttribute('data-status', /sent|delivered|read/);
	await message(alice.page, texts[0]).getByRole('button', { name: 'Edit' }).click();
	await alice.page.getByRole('textbox', { name: 'Message' }).fill(texts[1]);
	await alice.page.getByRole('textbox', { name: 'Message' }).press('Enter');
	await expect(message(alice.page, texts[1])).toBeVisible();

	const groupTitle = `Canary ${marker.slice(-4)}`;
	await createGroup(alice.page, groupTitle, [bob.user.username]);
	await send(alice.page, texts[2]);
	await expect(message(alice.page, texts[2])).toHaveAttribute('data-status', /sent|delivered|read/);

	// A reaction: sealed, so its emoji must not be stored or broadcast either.
	const emoji = '😮';
	await message(alice.page, texts[2]).hover();
	await message(alice.page, texts[2]).getByRole('button', { name: 'Add reaction' }).click();
	await alice.page.getByRole('button', { name: `React with ${emoji}` }).click();
	await expect(message(alice.page, texts[2]).getByTestId('reaction')).toHaveText(new RegExp(`${emoji}\\s*1`));
	// Bob's device opens it (and checks Alice's signature) to show it.
	await openConversation(bob.page, groupTitle);
	await expect(message(bob.page, texts[2]).getByTestId('reaction')).toHaveText(new RegExp(`${emoji}\\s*1`));

	const client = new pg.Client({
		host: '127.0.0.1',
		port: DB_PORT,
		user: 'postgres',
		password: 'postgres',
		database: 'postgres'
	});
	await client.connect();
	try {
		const stored = await client.query(
			`select m.content_encrypted from public.messages m
			 join public.conversation_participants p on p.conversation_id = m.conversation_id
			 join public.profiles pr on pr.id = p.user_id
			 where pr.username = $1`,
			[alice.user.username]
		);
		expect(stored.rowCount).toBeGreaterThanOrEqual(2);
		const reactions = await client.query<{ emoji: string | null; emoji_sealed: string }>(
			`select r.emoji, r.emoji_sealed from public.message_reactions r
			 join public.profiles pr on pr.id = r.user_id
			 where pr.username = $1`,
			[alice.user.username]
		);
		expect(reactions.rowCount).toBe(1);
		expect(reactions.rows[0].emoji).toBeNull();
		expect(reactions.rows[0].emoji_sealed).not.toContain(emoji);
		// Every table of the app's schema, every column, as text.
		const tables = await client.query<{ name: string }>(
			`select format('%I.%I', schemaname, tablename) as name from pg_tables where schemaname = 'public'`
		);
		for (const { name } of tables.rows) {
			for (const needle of [marker, emoji]) {
				const hits = await client.query(`select count(*)::int as n from ${name} t where t::text like $1`, [
					`%${needle}%`
				]);
				expect(hits.rows[0].n, `plaintext ${needle} found in ${name}`).toBe(0);
			}
		}
		// The realtime message log too, when it keeps payloads.
		const realtime = await client.query(
			`select count(*)::int as n from pg_tables where schemaname = 'realtime' and tablename = 'messages'`
		);
		if (realtime.rows[0].n) {
			for (const needle of [marker, emoji]) {
				const hits = await client.query(
					`select count(*)::int as n from realtime.messages t where t::text like $1`,
					[`%${needle}%`]
				);
				expect(hits.rows[0].n, `plaintext ${needle} found in realtime.messages`).toBe(0);
			}
		}
	} finally {
		await client.end();
	}

	await alice.context.close();
	await bob.context.close();
});
