import { expect, test } from '@playwright/test';
import { send, startDirect, userSession } from './helpers';

test.describe.configure({ timeout: 180_000 });

test('the conversation list shows who is online and a deleted last message', async ({ browser }) => {
	const alice = await userSession(browser, 'Ada');
	const bob = await userSession(browser, 'Bo');
	await startDirect(alice.page, bob.user.username);
	await send(alice.page, 'Soon gone');

	// Bob only has the list open (no conversation): Alice's list still shows him online.
	const bobList = bob.page.getByRole('navigation', { name: 'Conversation list' });
	await expect(bobList.getByTestId('conversation-preview')).toHaveText('Soon gone');
	const aliceList = alice.page.getByRole('navigation', { name: 'Conversation list' });
	const dot = aliceList.getByTestId('conversation').getByTestId('presence-dot');
	await expect(dot).toHaveAttribute('data-online', 'true');
	// And Bob sees Alice online in his list.
	await expect(bobList.getByTestId('conversation').getByTestId('presence-dot')).toHaveAttribute(
		'data-online',
		'true'
	);

	// Alice deletes her last message: Bob's list (conversation not open) says so.
	await alice.page
		.getByTestId('message')
		.filter({ hasText: 'Soon gone' })
		.getByRole('button', { name: 'Delete' })
		.click();
	await expect(bobList.getByTestId('conversation-preview')).toHaveText('Message deleted');

	// Bob leaves: the dot goes out.
	await bob.page.goto('about:blank');
	await expect(dot).toHaveAttribute('data-online', 'false');

	await alice.context.close();
	await bob.context.close();
});

test('the profile page offers push notifications and reports the outcome', async ({ browser }) => {
	const carol = await userSession(browser, 'Cy');
	await carol.context.grantPermissions(['notifications']);
	await carol.page.getByRole('link', { name: /Your profile/ }).click();
	const button = carol.page.getByRole('button', { name: 'Enable notifications' });
	await expect(button).toBeVisible();
	await button.click();
	// Headless Chromium may lack a push service: either way the page says what happened.
	await expect(carol.page.getByTestId('push-status').or(carol.page.getByTestId('push-error'))).toBeVisible();
	await carol.context.close();
});
