import { expect, test } from '@playwright/test';
import { message, openConversation, send, startDirect, userSession } from './helpers';

// Several people in several browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

test('messages written offline are sent once, in order, when the connection returns', async ({ browser }) => {
	const alice = await userSession(browser, 'Olga');
	const bob = await userSession(browser, 'Omar');
	await startDirect(alice.page, bob.user.username);
	await send(alice.page, 'Before going offline');
	await openConversation(bob.page, alice.user.displayName);
	await expect(message(bob.page, 'Before going offline')).toBeVisible();

	await alice.context.setOffline(true);
	await expect(alice.page.getByTestId('offline-banner')).toBeVisible();
	await send(alice.page, 'Offline one');
	await send(alice.page, 'Offline two');
	await expect(message(alice.page, 'Offline one')).toHaveAttribute('data-status', /pending|failed/);
	await expect(message(alice.page, 'Offline two')).toHaveAttribute('data-status', /pending|failed/);
	await alice.page.screenshot({ path: 'test-results/screens/offline.png' });
	await expect(bob.page.getByText('Offline one')).toHaveCount(0);

	await alice.context.setOffline(false);
	await expect(alice.page.getByTestId('offline-banner')).toHaveCount(0);
	await expect(message(bob.page, 'Offline two')).toBeVisible({ timeout: 20_000 });

	const texts = bob.page.getByTestId('message-text');
	await expect(texts).toHaveText(['Before going offline', 'Offline one', 'Offline two']);
	await expect(message(alice.page, 'Offline two')).not.toHaveAttribute('data-status', /pending|failed/);

	// Once, even after a reload that reads the history from the database.
	await bob.page.reload();
	await expect(bob.page.getByTestId('message-text')).toHaveText([
		'Before going offline',
		'Offline one',
		'Offline two'
	]);

	await alice.context.close();
	await bob.context.close();
});
