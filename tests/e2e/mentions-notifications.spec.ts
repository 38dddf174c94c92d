import { expect, test, type Page } from '@playwright/test';
import {
	composer,
	createGroup,
	openConversation,
	screenshot,
	send,
	startDirect,
	userSession
} from './helpers';

// Several people in several browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

const list = (page: Page) => page.getByRole('navigation', { name: 'Conversation list' });
const listItem = (page: Page, name: string) => list(page).getByRole('link', { name });

test('@mentions: the autocomplete inserts one, the mentioned person sees it highlighted and the list shows "@"', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const bea = await userSession(browser, 'Bea');
	const cal = await userSession(browser, 'Cal');
	const title = `Mentions ${Math.random().toString(36).slice(2, 6)}`;
	await createGroup(ada.page, title, [bea.user.username, cal.user.username]);

	// Typing @ and part of a name lists the members it may mean (never me), as a listbox.
	await composer(ada.page).pressSequentially('Hi @', { delay: 20 });
	const picker = ada.page.getByRole('listbox', { name: 'Mention someone' });
	await expect(picker.getByRole('option')).toHaveCount(2);
	await expect(picker).not.toContainText(ada.user.displayName);
	await composer(ada.page).pressSequentially(bea.user.username.slice(0, 3));
	await expect(picker.getByRole('option')).toHaveCount(1);
	await expect(picker.getByRole('option').first()).toHaveAttribute('aria-selected', 'true');
	await expect(composer(ada.page)).toHaveAttribute('aria-activedescendant', /.+/);
	await screenshot(ada.page, 'mention-picker');

	// Escape closes the list (and cancels nothing else); typing on opens it again; Enter picks.
	await composer(ada.page).press('Escape');
	await expect(picker).toHaveCount(0);
	await composer(ada.page).press('Backspace');
	await expect(picker.getByRole('option')).not.toHaveCount(0);
	await composer(ada.page).pressSequentially(bea.user.username.slice(2, 3));
	await composer(ada.page).press('Enter');
	await expect(picker).toHaveCount(0);
	await expect(composer(ada.page)).toHaveValue(`Hi @${bea.user.username} `);
	// Enter picked; it did not send.
	await expect(ada.page.getByTestId('message')).toHaveCount(0);
	await composer(ada.page).pressSequentially('look at this', { delay: 10 });
	await composer(ada.page).press('Enter');
	const sent = ada.page.getByTestId('message').filter({ hasText: 'look at this' });
	await expect(sent).toHaveAttribute('data-status', /sent|delivered|read/);
	await expect(sent.getByTestId('mention')).toHaveText(`@${bea.user.username}`);

	// Tab picks too, with the arrow keys choosing among several.
	await composer(ada.page).pressSequentially('and @', { delay: 20 });
	await composer(ada.page).press('ArrowDown');
	await composer(ada.page).press('Tab');
	await expect(composer(ada.page)).toHaveValue(/^and @(\w+) $/);
	await composer(ada.page).fill('');

	// Bea, on the list, sees the "@" badge; Cal, not mentioned, sees only the unread count.
	await expect(listItem(bea.page, title).getByTestId('mention-badge')).toBeVisible();
	await expect(listItem(bea.page, title).getByTestId('mention-badge')).toContainText('unread mention');
	await expect(listItem(cal.page, title).getByTestId('unread-badge')).toBeVisible();
	await expect(listItem(cal.page, title).getByTestId('mention-badge')).toHaveCount(0);
	await screenshot(bea.page, 'mention-badge');

	// In the conversation the mention of Bea stands out for her; for Cal it is a plain mention.
	await openConversation(bea.page, title);
	const forBea = bea.page.getByTestId('message').filter({ hasText: 'look at this' });
	await expect(forBea.getByTestId('mention')).toHaveAttribute('data-me', 'true');
	await expect(forBea.locator('[data-mentions-me]')).toBeVisible();
	// Reading it clears the badge (once her read receipt is stored, the list says so after a reload).
	await expect(sent.getByTestId('message-status')).toContainText('Read by 1 of 2');
	await bea.page.goto('/');
	await expect(listItem(bea.page, title).getByTestId('mention-badge')).toHaveCount(0);

	await openConversation(cal.page, title);
	const forCal = cal.page.getByTestId('message').filter({ hasText: 'look at this' });
	await expect(forCal.getByTestId('mention')).toHaveAttribute('data-me', 'false');
	await expect(forCal.locator('[data-mentions-me]')).toHaveCount(0);

	for (const session of [ada, bea, cal]) await session.context.close();
});

test('notification levels and mutes: set from the header menu, shown in the list, kept across reloads', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const bea = await userSession(browser, 'Bea');
	await startDirect(ada.page, bea.user.username);
	await send(ada.page, 'hello');
	await openConversation(bea.page, ada.user.displayName);

	const button = bea.page.getByRole('button', { name: /^Notifications/ });
	await expect(button).toHaveAttribute('aria-haspopup', 'menu');
	await expect(
		listItem(bea.page, ada.user.displayName).getByTestId('conversation-notifications')
	).toHaveCount(0);

	// Only @mentions: chosen with the keyboard.
	await button.focus();
	await button.press('Enter');
	const menu = bea.page.getByRole('menu', { name: 'Notifications' });
	await expect(menu.getByRole('menuitemradio', { name: 'All messages' })).toBeFocused();
	await bea.page.keyboard.press('ArrowDown');
	await expect(menu.getByRole('menuitemradio', { name: 'Only @mentions' })).toBeFocused();
	await bea.page.keyboard.press('Enter');
	await expect(menu).toHaveCount(0);
	await expect(button).toBeFocused();
	await expect(button).toHaveAccessibleName('Notifications: Only @mentions');
	await expect(listItem(bea.page, ada.user.displayName).getByTestId('conversation-notifications')).toHaveText(
		'Only @mentions'
	);

	// Escape closes the menu without a change.
	await button.click();
	await bea.page.keyboard.press('Escape');
	await expect(menu).toHaveCount(0);
	await expect(button).toBeFocused();

	// Muted for an hour: the list says until when, with the muted icon.
	await button.click();
	await menu.getByRole('menuitemradio', { name: 'For 1 hour' }).click();
	const shown = listItem(bea.page, ada.user.displayName).getByTestId('conversation-notifications');
	await expect(shown).toHaveText(/Muted until /);
	await expect(shown.locator('svg')).toBeVisible();
	await screenshot(bea.page, 'muted-conversation');

	// Until turned back on: kept across a reload (stored on the server).
	await button.click();
	await menu.getByRole('menuitemradio', { name: /until I turn it back on/i }).click();
	await expect(shown).toHaveText('Muted');
	await bea.page.reload();
	await expect(listItem(bea.page, ada.user.displayName).getByTestId('conversation-notifications')).toHaveText(
		'Muted'
	);
	await expect(bea.page.getByRole('button', { name: 'Notifications: Muted' })).toBeVisible();

	// Unmute: back to the level chosen before.
	await bea.page.getByRole('button', { name: /^Notifications/ }).click();
	await menu.getByRole('menuitem', { name: 'Unmute' }).click();
	await expect(listItem(bea.page, ada.user.displayName).getByTestId('conversation-notifications')).toHaveText(
		'Only @mentions'
	);
	// Ada's own settings are untouched.
	await expect(
		listItem(ada.page, bea.user.displayName).getByTestId('conversation-notifications')
	).toHaveCount(0);

	for (const session of [ada, bea]) await session.context.close();
});

test('the text people write: links (never javascript:), a little markdown, long messages collapsed', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const bea = await userSession(browser, 'Bea');
	await startDirect(ada.page, bea.user.username);
	await send(ada.page, 'see https://example.com/docs, **bold** and `code`, not javascript:alert(1) <b>x</b>');
	await openConversation(bea.page, ada.user.displayName);

	const rich = bea.page.getByTestId('message').filter({ hasText: 'see ' }).getByTestId('message-text');
	const link = rich.getByRole('link', { name: 'https://example.com/docs' });
	await expect(link).toHaveAttribute('href', 'https://example.com/docs');
	await expect(link).toHaveAttribute('target', '_blank');
	await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
	await expect(rich.getByRole('link')).toHaveCount(1);
	await expect(rich.locator('a[href^="javascript"]')).toHaveCount(0);
	await expect(rich).toContainText('javascript:alert(1) <b>x</b>');
	await expect(rich.locator('strong')).toHaveText('bold');
	await expect(rich.locator('code')).toHaveText('code');
	await expect(rich.locator('b')).toHaveCount(0);

	// A quote and a code block.
	await composer(ada.page).fill('> quoted line\n```\n**not bold**\n```');
	await composer(ada.page).press('Enter');
	const block = bea.page.getByTestId('message').filter({ hasText: 'quoted line' });
	await expect(block.locator('blockquote')).toHaveText('quoted line');
	await expect(block.locator('pre code')).toHaveText('**not bold**');

	// A long message starts collapsed behind "Read more".
	await composer(ada.page).fill(Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n'));
	await composer(ada.page).press('Enter');
	const long = bea.page.getByTestId('message').filter({ hasText: 'line 30' });
	const more = long.getByRole('button', { name: 'Read more' });
	await expect(more).toHaveAttribute('aria-expanded', 'false');
	await more.click();
	await expect(long.getByRole('button', { name: 'Show less' })).toHaveAttribute('aria-expanded', 'true');
	await screenshot(bea.page, 'rich-text');

	for (const session of [ada, bea]) await session.context.close();
});
