import { expect, test } from '@playwright/test';
import { composer, message, openConversation, screenshot, send, startDirect, userSession } from './helpers';

// Several people in several browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

test('two people chat live: typing, presence, receipts, reactions, edits, deletes and replies', async ({
	browser
}) => {
	const alice = await userSession(browser, 'Alice');
	const bob = await userSession(browser, 'Bob');

	await startDirect(alice.page, bob.user.username);
	await expect(alice.page.getByRole('heading', { level: 1 })).toHaveText(bob.user.displayName);
	await expect(composer(alice.page)).toBeFocused();

	await send(alice.page, 'Hello Bob!');
	const first = message(alice.page, 'Hello Bob!');
	await expect(first).toBeVisible();

	// Bob sees the conversation appear with its preview and unread count, then opens it.
	const bobList = bob.page.getByRole('navigation', { name: 'Conversation list' });
	await expect(bobList.getByTestId('conversation-preview')).toHaveText('Hello Bob!');
	await expect(bobList.getByTestId('unread-badge')).toHaveText(/1/);
	await screenshot(bob.page, 'conversation-list');

	// Delivered once Bob's device received it, read once he opens the chat.
	await expect(first).toHaveAttribute('data-status', /delivered|read/);
	await openConversation(bob.page, alice.user.displayName);
	await expect(message(bob.page, 'Hello Bob!')).toBeVisible();
	await expect(first).toHaveAttribute('data-status', 'read');

	// Presence: both have the chat open.
	await expect(alice.page.getByTestId('presence')).toHaveText(/Online/);
	await expect(bob.page.getByTestId('presence')).toHaveText(/Online/);

	// Typing indicator.
	await composer(bob.page).pressSequentially('Hi', { delay: 30 });
	await expect(alice.page.getByTestId('typing')).toHaveText(`${bob.user.displayName} is typing…`);
	await composer(bob.page).press('Enter');
	await expect(message(alice.page, 'Hi')).toBeVisible();
	await expect(alice.page.getByTestId('typing')).toHaveText('');

	// Shift+Enter makes a new line instead of sending.
	await composer(bob.page).fill('Line one');
	await composer(bob.page).press('Shift+Enter');
	await composer(bob.page).pressSequentially('line two');
	await composer(bob.page).press('Enter');
	await expect(alice.page.getByTestId('message-text').last()).toHaveText('Line one\nline two');

	// Reactions, with who reacted.
	await message(bob.page, 'Hello Bob!').hover();
	await message(bob.page, 'Hello Bob!').getByRole('button', { name: 'Add reaction' }).click();
	await bob.page.getByRole('button', { name: 'React with 👍' }).click();
	const reaction = first.getByTestId('reaction');
	await expect(reaction).toHaveText(/👍\s*1/);
	await expect(reaction).toHaveAttribute('title', bob.user.displayName);

	// Reply with a quote.
	await message(bob.page, 'Hello Bob!').getByRole('button', { name: 'Reply' }).click();
	await expect(bob.page.getByTestId('composer-context')).toContainText('Replying to');
	await send(bob.page, 'Replying to you');
	await expect(message(alice.page, 'Replying to you').getByTestId('message-quote')).toContainText(
		'Hello Bob!'
	);

	// Edit (Escape cancels, then a real edit), seen live by the other side.
	await first.getByRole('button', { name: 'Edit' }).click();
	await expect(composer(alice.page)).toHaveValue('Hello Bob!');
	await composer(alice.page).press('Escape');
	await expect(composer(alice.page)).toHaveValue('');
	await first.getByRole('button', { name: 'Edit' }).click();
	await composer(alice.page).fill('Hello Bob, edited');
	await composer(alice.page).press('Enter');
	await expect(message(bob.page, 'Hello Bob, edited')).toContainText('edited');

	// Delete leaves a tombstone on both sides.
	await send(alice.page, 'Oops, wrong chat');
	await expect(message(bob.page, 'Oops, wrong chat')).toBeVisible();
	await message(alice.page, 'Oops, wrong chat').getByRole('button', { name: 'Delete' }).click();
	await expect(bob.page.getByTestId('message-list').getByText('Oops, wrong chat')).toHaveCount(0);
	await expect(bob.page.getByTestId('message-text').last()).toHaveText('Message deleted');
	await screenshot(alice.page, 'chat-window');

	// Reload: the history is intact and decrypts again.
	await bob.page.reload();
	await expect(message(bob.page, 'Hello Bob, edited')).toBeVisible();
	await expect(message(bob.page, 'Replying to you')).toBeVisible();
	await expect(bob.page.getByTestId('message-text').last()).toHaveText('Message deleted');

	await alice.context.close();
	await bob.context.close();
});

test('a message goes sent → delivered → read as the recipient comes online and opens it', async ({
	browser
}) => {
	const alice = await userSession(browser, 'Ann');
	const bob = await userSession(browser, 'Ben');
	// Bob is away: his page is closed.
	await bob.page.goto('about:blank');

	await startDirect(alice.page, bob.user.username);
	await send(alice.page, 'Are you there?');
	const sent = message(alice.page, 'Are you there?');
	await expect(sent).toHaveAttribute('data-status', 'sent');
	await expect(sent.getByTestId('message-status')).toContainText('Sent');

	await bob.page.goto('/');
	await expect(sent).toHaveAttribute('data-status', 'delivered');
	await expect(sent.getByTestId('message-status')).toContainText('Delivered');

	await openConversation(bob.page, alice.user.displayName);
	await expect(sent).toHaveAttribute('data-status', 'read');
	await expect(sent.getByTestId('message-status')).toContainText('Read');

	await alice.context.close();
	await bob.context.close();
});
