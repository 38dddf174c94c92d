import { expect, test } from '@playwright/test';
import { createGroup, message, openConversation, screenshot, send, userSession } from './helpers';

// Several people in several browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

test('a group with roles: admins manage members, a removed member stops receiving', async ({ browser }) => {
	const admin = await userSession(browser, 'Ada');
	const mod = await userSession(browser, 'Max');
	const member = await userSession(browser, 'Mia');
	const title = `Team ${Math.random().toString(36).slice(2, 6)}`;

	await createGroup(admin.page, title, [mod.user.username, member.user.username]);
	await expect(admin.page.getByRole('heading', { level: 1 })).toHaveText(title);
	await send(admin.page, 'Welcome to the team');

	for (const other of [mod, member]) {
		await openConversation(other.page, title);
		await expect(message(other.page, 'Welcome to the team')).toBeVisible();
		// Sender names show in groups.
		await expect(other.page.getByTestId('message-sender').first()).toHaveText(admin.user.displayName);
	}
	await expect(admin.page.getByTestId('presence')).toHaveText(/3 members, 2 online/);

	// Read by all, once both have opened it.
	await expect(message(admin.page, 'Welcome to the team')).toHaveAttribute('data-status', 'read');
	await expect(message(admin.page, 'Welcome to the team').getByTestId('message-status')).toContainText(
		'Read by all'
	);

	// A plain member sees the list of members but no controls to manage them.
	await member.page.getByRole('button', { name: 'Members' }).click();
	const memberDialog = member.page.getByRole('dialog');
	await expect(memberDialog.getByTestId('member')).toHaveCount(3);
	await expect(memberDialog.getByRole('button', { name: /^Remove/ })).toHaveCount(0);
	await expect(memberDialog.getByRole('combobox')).toHaveCount(0);
	await memberDialog.getByRole('button', { name: 'Close' }).click();
	await expect(member.page.getByRole('button', { name: 'Members' })).toBeFocused();

	// The admin promotes Max to moderator.
	await admin.page.getByRole('button', { name: 'Members' }).click();
	const dialog = admin.page.getByRole('dialog');
	await dialog.getByRole('combobox', { name: `Role of ${mod.user.displayName}` }).selectOption('moderator');
	await expect(dialog.getByRole('status')).toHaveText(`${mod.user.displayName} is now moderator.`);
	await screenshot(admin.page, 'group-members');

	// The database refuses to let the last admin leave, and the UI says why.
	await dialog.getByRole('button', { name: 'Leave group' }).click();
	await expect(dialog.getByRole('alert')).toContainText(/admin/i);
	await admin.page.keyboard.press('Escape');
	await expect(dialog).toHaveCount(0);
	await expect(admin.page.getByRole('button', { name: 'Members' })).toBeFocused();

	// The moderator removes the member.
	await mod.page.getByRole('button', { name: 'Members' }).click();
	const modDialog = mod.page.getByRole('dialog');
	await expect(modDialog.getByRole('button', { name: `Remove ${admin.user.displayName}` })).toHaveCount(0);
	await modDialog.getByRole('button', { name: `Remove ${member.user.displayName}` }).click();
	await expect(modDialog.getByTestId('member')).toHaveCount(2);
	await modDialog.getByRole('button', { name: 'Close' }).click();

	// New messages reach the remaining members only.
	await send(admin.page, 'After Mia left');
	await expect(message(mod.page, 'After Mia left')).toBeVisible();
	await expect(member.page.getByText('After Mia left')).toHaveCount(0);
	await member.page.reload();
	await expect(member.page.getByText('After Mia left')).toHaveCount(0);
	await expect(
		member.page.getByRole('navigation', { name: 'Conversation list' }).getByRole('link', { name: title })
	).toHaveCount(0);

	for (const session of [admin, mod, member]) await session.context.close();
});
