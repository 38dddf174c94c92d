import { expect, test, type Page } from '@playwright/test';
import { composer, message, send, startDirect, userSession, superuser } from './helpers';

test.describe.configure({ timeout: 180_000 });

async function safetyDigits(page: Page): Promise<string> {
	await page.getByTestId('safety-button').click();
	const dialog = page.getByRole('dialog', { name: /Safety number with/ });
	await expect(dialog.getByTestId('safety-number')).toHaveText(/^(\d{5}){12}$/);
	await expect(
		dialog.getByRole('img', { name: 'QR code of the safety number' }).locator('svg')
	).toBeVisible();
	return (await dialog.getByTestId('safety-number').textContent()) ?? '';
}

test('safety numbers match on both sides, verification survives reload, a swapped key pauses sending', async ({
	browser
}) => {
	const ana = await userSession(browser, 'Ana');
	const ben = await userSession(browser, 'Ben');
	await startDirect(ana.page, ben.user.username);
	await send(ana.page, 'Hello Ben');
	await expect(message(ana.page, 'Hello Ben')).toHaveAttribute('data-status', /sent|delivered|read/);
	await ben.page
		.getByRole('navigation', { name: 'Conversation list' })
		.getByRole('link', { name: ana.user.displayName })
		.click();
	await expect(message(ben.page, 'Hello Ben')).toBeVisible();

	const anaSees = await safetyDigits(ana.page);
	const benSees = await safetyDigits(ben.page);
	expect(anaSees).toBe(benSees);
	await ben.page.keyboard.press('Escape');

	const dialog = ana.page.getByRole('dialog', { name: /Safety number with/ });
	await dialog.getByRole('button', { name: 'Mark as verified' }).click();
	await expect(dialog.getByTestId('safety-verified')).toBeVisible();
	await ana.page.keyboard.press('Escape');
	await expect(ana.page.getByTestId('safety-button')).toHaveText('✓ Verified');
	await ana.page.reload();
	await expect(ana.page.getByTestId('safety-button')).toHaveText('✓ Verified');
	await expect(ana.page.getByTestId('key-change-notice')).toHaveCount(0);

	// The server swaps Ben's published identity for one it controls.
	await superuser((db) =>
		db.query('update public.profiles set signing_key = $2, public_key = $3 where username = $1', [
			ben.user.username,
			Buffer.alloc(32, 9).toString('base64'),
			Buffer.alloc(32, 8).toString('base64')
		])
	);

	await ana.page.reload();
	const notice = ana.page.getByTestId('key-change-notice');
	await expect(notice).toContainText('Sending is paused');
	await expect(ana.page.getByTestId('safety-button')).toHaveText('Safety number');
	await composer(ana.page).fill('Are you still you?');
	await composer(ana.page).press('Enter');
	await expect(ana.page.getByRole('alert').filter({ hasText: 'Not sent' })).toContainText(
		ben.user.displayName
	);
	await expect(message(ana.page, 'Are you still you?')).toHaveCount(0);

	await notice.getByRole('button', { name: 'Accept new key' }).click();
	await expect(notice).toHaveCount(0);
	await send(ana.page, 'Sent after accepting');
	await expect(message(ana.page, 'Sent after accepting')).toBeVisible();

	for (const s of [ana, ben]) await s.context.close();
});
