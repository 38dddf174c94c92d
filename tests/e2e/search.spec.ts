import { expect, test } from '@playwright/test';
import { appReady, message, send, startDirect, userSession } from './helpers';

// Two people signing up, one sending sixty messages, the other's device indexing them: minutes.
test.describe.configure({ timeout: 240_000 });

test('search on the device: find a message, open it in context, and search again after a reload', async ({
	browser
}) => {
	const ana = await userSession(browser, 'Ana');
	const ben = await userSession(browser, 'Ben');
	await startDirect(ana.page, ben.user.username);

	// The message to find, then more than a page (50) after it: Ben's newest page will not hold it.
	const needle = 'The blue heron nests by the old watermill';
	await send(ana.page, 'Are you coming on Saturday?');
	await send(ana.page, needle);
	await send(ana.page, 'Bring boots, the path is muddy');
	for (let i = 1; i <= 55; i++) await send(ana.page, `Filler number ${i}`);
	await expect(message(ana.page, 'Filler number 55')).toHaveAttribute('data-status', /sent|delivered|read/);
	const benList = ben.page.getByRole('navigation', { name: 'Conversation list' });
	await expect(benList.getByTestId('conversation-preview')).toHaveText('Filler number 55');

	// Ben has not opened the conversation: his device indexes its history in the background.
	const search = ben.page.getByRole('combobox', { name: 'Search all messages' });
	await search.fill('heron');
	const results = ben.page.getByRole('listbox', { name: 'Search results' });
	const hit = results.getByRole('option').filter({ hasText: 'watermill' });
	await expect(hit).toBeVisible({ timeout: 30_000 });
	await expect(hit).toContainText(ana.user.displayName);
	// The match is marked in the snippet (as text, in <mark>).
	await expect(hit.locator('mark')).toHaveText('heron');
	await expect(ben.page.getByTestId('search-progress')).toHaveCount(0, { timeout: 30_000 });

	// A typo still finds it; the keyboard opens it.
	await search.fill('watremill');
	await expect(hit).toBeVisible();
	await search.press('ArrowDown');
	await expect(hit).toHaveAttribute('aria-selected', 'true');
	await search.press('Enter');

	// The conversation opens at the message, with its neighbours loaded, and highlights it.
	await expect(ben.page).toHaveURL(/\/c\/[0-9a-f-]{36}\?m=[0-9a-f-]{36}$/);
	const found = message(ben.page, needle);
	await expect(found).toBeInViewport();
	await expect(found).toHaveAttribute('data-search-hit', 'true');
	await expect(message(ben.page, 'Are you coming on Saturday?')).toBeAttached();
	await expect(message(ben.page, 'Bring boots, the path is muddy')).toBeInViewport();
	await expect(found).not.toHaveAttribute('data-search-hit', 'true', { timeout: 5000 });

	// Search in this conversation only, from the chat header.
	await ben.page.getByRole('button', { name: 'Search', exact: true }).click();
	const inChat = ben.page.getByRole('combobox', { name: 'Search this conversation' });
	await expect(inChat).toBeFocused();
	await inChat.fill('muddy');
	await ben.page.getByRole('option').filter({ hasText: 'Bring boots' }).click();
	await expect(message(ben.page, 'Bring boots, the path is muddy')).toHaveAttribute(
		'data-search-hit',
		'true'
	);

	// After a reload the sealed index opens from this device, even with no connection at all.
	await ben.page.goto('/');
	await appReady(ben.page);
	await ben.context.setOffline(true);
	await ben.page.getByRole('combobox', { name: 'Search all messages' }).fill('heron');
	await expect(
		ben.page
			.getByRole('listbox', { name: 'Search results' })
			.getByRole('option')
			.filter({ hasText: 'watermill' })
	).toBeVisible();
	await ben.context.setOffline(false);

	await ana.context.close();
	await ben.context.close();
});
