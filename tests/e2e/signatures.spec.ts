import { expect, test, type Page } from '@playwright/test';
import { createGroup, message, openConversation, send, superuser, userSession } from './helpers';

// Three people in three browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

function warning(page: Page, text: string) {
	return message(page, text).getByTestId('message-signature-warning');
}

test('a relabelled, a forged and an unsigned message are flagged; a genuine one is not', async ({
	browser
}) => {
	const ana = await userSession(browser, 'Ana');
	const ben = await userSession(browser, 'Ben');
	const cleo = await userSession(browser, 'Cleo');
	const title = `Signed ${Math.random().toString(36).slice(2, 6)}`;
	const conversationId = await createGroup(ana.page, title, [ben.user.username, cleo.user.username]);
	for (const text of ['Genuine', 'Relabel me', 'Strip me']) {
		await send(ana.page, text);
		await expect(message(ana.page, text)).toHaveAttribute('data-status', /sent|delivered|read/);
	}
	await openConversation(ben.page, title);
	await expect(message(ben.page, 'Genuine')).toBeVisible();
	await expect(message(ben.page, 'Genuine').locator('.bubble')).toHaveAttribute('data-signature', 'verified');
	await expect(warning(ben.page, 'Genuine')).toHaveCount(0);

	await superuser(async (db) => {
		const ids = await db.query<{ id: string; username: string }>(
			'select id, username from public.profiles where username = any($1)',
			[[ben.user.username, cleo.user.username]]
		);
		const idOf = (u: string) => ids.rows.find((r) => r.username === u)!.id;
		const rows = await db.query<{ id: string; seq: string }>(
			'select id, seq from public.messages where conversation_id = $1 order by seq',
			[conversationId]
		);
		const [genuine, relabel, strip] = rows.rows;
		// Relabelled: Ana's message now claims to be Cleo's.
		await db.query('update public.messages set sender_id = $2 where id = $1', [
			relabel.id,
			idOf(cleo.user.username)
		]);
		// Unsigned: the signature is gone, the content still opens.
		await db.query(`update public.messages set encryption = encryption - 'sig' where id = $1`, [strip.id]);
		// Forged: a copy of Ana's genuine ciphertext, inserted as a new message from Ben.
		await db.query(
			`with c as (update public.conversations set last_seq = last_seq + 1 where id = $1 returning last_seq)
			 insert into public.messages (conversation_id, sender_id, seq, content_encrypted, message_type, encryption, client_id)
			 select m.conversation_id, $3, c.last_seq, m.content_encrypted, m.message_type, m.encryption, gen_random_uuid()
			 from public.messages m, c where m.id = $2`,
			[conversationId, genuine.id, idOf(ben.user.username)]
		);
	});

	// Cleo reloads: what the server changed is flagged, with the sender it now claims.
	await cleo.page.reload();
	await openConversation(cleo.page, title);
	await expect(message(cleo.page, 'Relabel me')).toBeVisible();
	await expect(warning(cleo.page, 'Relabel me')).toContainText('signature does not match');
	await expect(warning(cleo.page, 'Strip me')).toContainText('Unsigned');
	const genuineCopies = message(cleo.page, 'Genuine');
	await expect(genuineCopies).toHaveCount(2);
	await expect(genuineCopies.nth(0).getByTestId('message-signature-warning')).toHaveCount(0);
	await expect(genuineCopies.nth(1).getByTestId('message-signature-warning')).toContainText(
		`Not from ${ben.user.displayName}'s device`
	);

	// Ana's own devices check what the server shows as hers too.
	await ana.page.reload();
	await expect(message(ana.page, 'Strip me')).toBeVisible();
	await expect(warning(ana.page, 'Strip me')).toContainText('Unsigned');
	await expect(message(ana.page, 'Genuine').nth(0).getByTestId('message-signature-warning')).toHaveCount(0);

	for (const s of [ana, ben, cleo]) await s.context.close();
});
