import { expect, test } from '@playwright/test';
import { composer, message, openConversation, send, signIn, startDirect, userSession } from './helpers';

// Two people in two browsers plus a second device: more than the default minute.
test.describe.configure({ timeout: 180_000 });

test('a device without the identity key cannot send until it restores the backup', async ({ browser }) => {
	const lee = await userSession(browser, 'Lee');
	const lou = await userSession(browser, 'Lou');
	await startDirect(lee.page, lou.user.username);
	await send(lee.page, 'Sent from the first device');
	await expect(message(lee.page, 'Sent from the first device')).toHaveAttribute(
		'data-status',
		/sent|delivered|read/
	);

	await lee.page.getByRole('link', { name: /Your profile/ }).click();
	await expect(lee.page.getByTestId('backup-state')).toBeVisible();
	await lee.page.getByLabel('Backup passphrase').fill('a keyless device test');
	await lee.page.getByLabel('Repeat passphrase').fill('a keyless device test');
	await lee.page.getByRole('button', { name: 'Save key backup' }).click();
	await expect(lee.page.getByRole('status').filter({ hasText: 'Key backup saved' })).toBeVisible({
		timeout: 20_000
	});

	// A fresh context has no IndexedDB: a second device, signed in, without Lee's identity key.
	const secondDevice = await browser.newContext();
	const page = await secondDevice.newPage();
	await signIn(page, lee.user);
	await openConversation(page, lou.user.displayName);
	const notice = page.getByRole('status').filter({ hasText: 'cannot send any' });
	await expect(notice).toBeVisible();
	await expect(notice.getByRole('link', { name: 'Restore your key backup' })).toBeVisible();
	await expect(notice.getByRole('link', { name: 'reset your key' })).toBeVisible();
	// No working composer: the box, the send button and the attach button are all off, and say why.
	await expect(composer(page)).toBeDisabled();
	await expect(page.getByRole('button', { name: 'Send', exact: true })).toBeDisabled();
	await expect(page.getByTestId('attach-input')).toBeDisabled();
	for (const attach of await page.getByRole('button', { name: 'Attach a file' }).all())
		await expect(attach).toBeDisabled();
	await expect(composer(page)).toHaveAccessibleDescription(/restore your key backup/i);
	await page.screenshot({ path: 'test-results/screens/keyless-device.png' });

	await notice.getByRole('link', { name: 'Restore your key backup' }).click();
	await expect(page.getByRole('heading', { name: 'Lost the passphrase?' })).toBeVisible();
	await page.getByLabel('Backup passphrase').fill('a keyless device test');
	await page.getByRole('button', { name: 'Restore keys' }).click();
	await expect(page.getByRole('status').filter({ hasText: 'Keys restored' })).toBeVisible({
		timeout: 20_000
	});

	await openConversation(page, lou.user.displayName);
	await expect(page.getByTestId('keyless-notice')).toHaveCount(0);
	await expect(message(page, 'Sent from the first device')).toBeVisible();
	await expect(composer(page)).toBeEnabled();
	await send(page, 'Sent from the second device');
	await expect(message(page, 'Sent from the second device')).toHaveAttribute(
		'data-status',
		/sent|delivered|read/
	);

	// Lou reads it, signed by the identity Lee's contacts know.
	await openConversation(lou.page, lee.user.displayName);
	await expect(message(lou.page, 'Sent from the second device')).toBeVisible();
	await expect(
		message(lou.page, 'Sent from the second device').getByTestId('message-signature-warning')
	).toHaveCount(0);

	await lee.context.close();
	await lou.context.close();
	await secondDevice.close();
});
