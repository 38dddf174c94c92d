/**
 * Notification levels reach the pushes themselves: three people are offline with a push
 * subscription each (on the worker tests' loopback push service, which checks VAPID and decrypts
 * each push with the subscription's own keys), and what the delivery
 * worker really sends follows each one's choice: "All messages" gets every message, "Only
 * @mentions" only the message that mentions them, and a muted conversation nothing.
 */
import { createClient } from '@supabase/supabase-js';
import { expect, test } from '@playwright/test';
import { DEFAULT_ANON_KEY } from '@parley/stack/config.ts';
import {
	createGroup,
	message,
	openConversation,
	send,
	superuser,
	userSession,
	type TestUser
} from './helpers';
import { API_URL } from './ports.ts';
import { PushService, type BrowserSubscription } from '../../worker/testing/push-service.ts';

test.describe.configure({ timeout: 180_000 });

let pushService: PushService;
test.beforeAll(async () => {
	pushService = await new PushService().start();
});
test.afterAll(async () => pushService.stop());

/** Stores `device` as `user`'s push subscription, as the app does after the browser subscribes. */
async function subscribe(user: TestUser, device: BrowserSubscription): Promise<string> {
	const client = createClient(process.env.PUBLIC_SUPABASE_URL ?? API_URL, DEFAULT_ANON_KEY, {
		auth: { persistSession: false }
	});
	const { data, error } = await client.auth.signInWithPassword({
		email: user.email,
		password: user.password
	});
	if (error) throw error;
	const saved = await client.rpc('save_push_subscription', {
		endpoint: device.endpoint,
		p256dh: device.keys.p256dh,
		auth: device.keys.auth
	});
	if (saved.error) throw saved.error;
	await client.auth.signOut();
	return data.user.id;
}

/**
 * Resolves once the worker has decided every push for `conversationId`: no outbox row is waiting
 * and no job for it is queued, deferred or running. What has not arrived by then never will.
 */
async function deliverySettled(conversationId: string): Promise<void> {
	await expect
		.poll(
			() =>
				superuser(async (db) => {
					const { rows } = await db.query(
						`select (select count(*) from delivery.outbox where conversation_id = $1)
						      + (select count(*) from pgboss.job
						          where name = 'push-delivery' and singleton_key like '%:' || $1
						            and state in ('created', 'retry', 'active')) as pending`,
						[conversationId]
					);
					return Number(rows[0].pending);
				}),
			{ timeout: 30_000 }
		)
		.toBe(0);
}

const received = (device: BrowserSubscription) => pushService.deliveriesFor(device.id);

test('pushes follow each person\'s level: "all" gets every message, "mentions" only its mention, muted none', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const bea = await userSession(browser, 'Bea');
	const cal = await userSession(browser, 'Cal');
	const dan = await userSession(browser, 'Dan');
	const title = `Pushes ${Math.random().toString(36).slice(2, 6)}`;
	const conversationId = await createGroup(ada.page, title, [
		bea.user.username,
		cal.user.username,
		dan.user.username
	]);

	// Bea: only @mentions. Cal: muted until turned back on. Dan keeps the default (all).
	const menuOf = async (page: typeof bea.page) => {
		await openConversation(page, title);
		await page.getByRole('button', { name: /^Notifications/ }).click();
		return page.getByRole('menu', { name: 'Notifications' });
	};
	await (await menuOf(bea.page)).getByRole('menuitemradio', { name: 'Only @mentions' }).click();
	await expect(bea.page.getByRole('button', { name: 'Notifications: Only @mentions' })).toBeVisible();
	await (await menuOf(cal.page)).getByRole('menuitemradio', { name: /until I turn it back on/i }).click();
	await expect(cal.page.getByRole('button', { name: 'Notifications: Muted' })).toBeVisible();
	await openConversation(dan.page, title);

	// Each has a push subscription, then goes offline: only pushes can reach them now.
	const devices = {
		bea: pushService.subscribe(),
		cal: pushService.subscribe(),
		dan: pushService.subscribe()
	};
	await subscribe(bea.user, devices.bea);
	await subscribe(cal.user, devices.cal);
	await subscribe(dan.user, devices.dan);
	for (const session of [bea, cal, dan]) await session.context.close();

	// A plain message: Dan is notified, with the group and sender but no content; nobody else is.
	await send(ada.page, 'plain news for everyone');
	await expect(message(ada.page, 'plain news for everyone')).toHaveAttribute('data-status', /sent|delivered/);
	await expect.poll(() => received(devices.dan).length, { timeout: 30_000 }).toBe(1);
	const first = received(devices.dan)[0].payload;
	expect(first).toMatchObject({ type: 'messages', conversation_id: conversationId, title, count: 1 });
	expect(JSON.stringify(first)).not.toContain('plain news');
	await deliverySettled(conversationId);
	expect(received(devices.bea)).toHaveLength(0);
	expect(received(devices.cal)).toHaveLength(0);

	// A message mentioning Bea: now she is notified too (and Dan again); Cal, muted, still not.
	await send(ada.page, `@${bea.user.username} can you look?`);
	const mention = ada.page.getByTestId('message').filter({ hasText: 'can you look?' });
	await expect(mention.getByTestId('mention')).toHaveText(`@${bea.user.username}`);
	await expect(mention).toHaveAttribute('data-status', /sent|delivered/);
	await expect.poll(() => received(devices.bea).length, { timeout: 30_000 }).toBe(1);
	await expect.poll(() => received(devices.dan).length, { timeout: 30_000 }).toBe(2);
	await deliverySettled(conversationId);
	expect(received(devices.bea)[0].payload).toMatchObject({
		conversation_id: conversationId,
		body: `${ada.user.displayName} mentioned you`,
		mentioned: true
	});
	expect(received(devices.dan)[1].payload).toMatchObject({ mentioned: false });
	expect(received(devices.bea).map((push) => push.payload.seq)).toEqual([
		received(devices.dan)[1].payload.seq
	]);
	expect(received(devices.cal)).toHaveLength(0);

	await ada.context.close();
});
