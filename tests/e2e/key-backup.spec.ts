import { expect, test } from '@playwright/test';
import { message, openConversation, send, signIn, startDirect, userSession } from './helpers';

// Several people in several browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

test('a second browser restores the keys from the passphrase backup and reads old messages', async ({
	browser
}) => {
	const alice = await userSession(browser, 'Kim');
	const bob = await userSession(browser, 'Kai');
	await startDirect(alice.page, bob.user.username);
	await send(alice.page, 'A secret from the first device');
	await expect(message(alice.page, 'A secret from the first device')).toHaveAttribute(
		'data-status',
		/sent|delivered|read/
	);

	await alice.page.getByRole('link', { name: /Your profile/ }).click();
	await expect(alice.page.getByTestId('backup-state')).toBeVisible();
	await alice.page.getByLabel('Backup passphrase').fill('correct horse battery');
	await alice.page.getByLabel('Repeat passphrase').fill('correct horse battery');
	await alice.page.getByRole('button', { name: 'Save key backup' }).click();
	await expect(alice.page.getByRole('status').filter({ hasText: 'Key backup saved' })).toBeVisible({
		timeout: 20_000
	});
	await alice.page.screenshot({ path: 'test-results/screens/profile.png' });

	// A fresh context has no IndexedDB: a new device.
	const secondDevice = await browser.newContext();
	const page = await secondDevice.newPage();
	await signIn(page, alice.user);
	await openConversation(page, bob.user.displayName);
	await expect(page.getByText('This device cannot read your encrypted messages yet')).toBeVisible();
	await expect(page.getByText('A secret from the first device')).toHaveCount(0);

	await page.getByRole('link', { name: 'Restore your key backup' }).click();
	await page.getByLabel('Backup passphrase').fill('wrong passphrase');
	await page.getByRole('button', { name: 'Restore keys' }).click();
	await expect(page.getByRole('alert')).toContainText('does not open', { timeout: 20_000 });
	await page.getByLabel('Backup passphrase').fill('correct horse battery');
	await page.getByRole('button', { name: 'Restore keys' }).click();
	await expect(page.getByRole('status').filter({ hasText: 'Keys restored' })).toBeVisible({
		timeout: 20_000
	});

	await openConversation(page, bob.user.displayName);
	await expect(message(page, 'A secret from the first device')).toBeVisible();

	await alice.context.close();
	await bob.context.close();
	await secondDevice.close();
});
