/**
 * Trust I in Chromium: when an admin removes Rob from a group, the others stop seeing his
 * presence and typing within a second, and his open window hears nothing more; a member's forged
 * `message_created` never shows in anyone's timeline.
 */
import { createClient } from '@supabase/supabase-js';
import { expect, test } from '@playwright/test';
import { DEFAULT_ANON_KEY } from '@parley/stack/config.ts';
import { composer, createGroup, message, openConversation, send, userSession } from './helpers';
import { API_URL } from './ports.ts';

const SUPABASE_URL = process.env.PUBLIC_SUPABASE_URL ?? API_URL;
const ANON_KEY = process.env.PUBLIC_SUPABASE_ANON_KEY ?? DEFAULT_ANON_KEY;

test.describe.configure({ timeout: 180_000 });

test('a removed member disappears from presence and typing at once, and hears nothing after', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const max = await userSession(browser, 'Max');
	const rob = await userSession(browser, 'Rob');
	const title = `Plan ${Math.random().toString(36).slice(2, 6)}`;
	const conversationId = await createGroup(ada.page, title, [max.user.username, rob.user.username]);
	await send(ada.page, 'Welcome');
	for (const other of [max, rob]) {
		await openConversation(other.page, title);
		await expect(message(other.page, 'Welcome')).toBeVisible();
	}
	await expect(ada.page.getByTestId('presence')).toHaveText(/3 members, 2 online/);

	// Rob types; Ada sees it.
	await composer(rob.page).pressSequentially('I will tell everyone');
	await expect(ada.page.getByTestId('typing')).toHaveText(`${rob.user.displayName} is typing…`);

	// A forged message_created from Rob, still a member, through his own session: the database
	// topic refuses it and the members topic is not where the app reads messages from.
	const robClient = createClient(SUPABASE_URL, ANON_KEY, { auth: { persistSession: false } });
	const { data: signedIn, error } = await robClient.auth.signInWithPassword({
		email: rob.user.email,
		password: rob.user.password
	});
	expect(error).toBeNull();
	await robClient.realtime.setAuth();
	const { data: conv } = await robClient.rpc('get_conversation', { conversation_id: conversationId });
	const epoch = (conv as { key_epoch: number }).key_epoch;
	const forged = {
		id: crypto.randomUUID(),
		conversation_id: conversationId,
		sender_id: signedIn.user!.id,
		seq: 2,
		message_type: 'text',
		content_encrypted: 'forged',
		created_at: new Date().toISOString()
	};
	for (const topic of [`conversation:${conversationId}:${epoch}`, `members:${conversationId}:${epoch}`]) {
		const ch = robClient.channel(topic, { config: { private: true, broadcast: { ack: true } } });
		await new Promise<void>((resolve) => ch.subscribe((s) => s === 'SUBSCRIBED' && resolve()));
		await ch.send({ type: 'broadcast', event: 'message_created', payload: forged });
		await robClient.removeChannel(ch);
	}

	// Ada removes Rob.
	await ada.page.getByRole('button', { name: 'Members' }).click();
	const dialog = ada.page.getByRole('dialog');
	const removedAt = Date.now();
	await dialog.getByRole('button', { name: `Remove ${rob.user.displayName}` }).click();
	await expect(dialog.getByTestId('member')).toHaveCount(2);
	await dialog.getByRole('button', { name: 'Close' }).click();
	for (const page of [ada.page, max.page]) {
		await expect(page.getByTestId('presence')).toHaveText(/2 members, 1 online/, { timeout: 1000 });
		await expect(page.getByTestId('typing')).not.toContainText(rob.user.displayName, { timeout: 1000 });
	}
	console.log(`removal to presence and typing gone in both windows: ${Date.now() - removedAt} ms`);

	// Rob keeps typing in his still-open window; nobody sees it. A new message never reaches him.
	await composer(rob.page).pressSequentially(' and more');
	await send(max.page, 'Only for us');
	await expect(message(ada.page, 'Only for us')).toBeVisible();
	await ada.page.waitForTimeout(500);
	await expect(ada.page.getByTestId('typing')).not.toContainText(rob.user.displayName);
	await expect(rob.page.getByText('Only for us')).toHaveCount(0);
	// Nobody's timeline ever showed the forged message.
	for (const page of [ada.page, max.page]) await expect(page.getByText('forged')).toHaveCount(0);

	await robClient.auth.signOut();
	for (const session of [ada, max, rob]) await session.context.close();
});
