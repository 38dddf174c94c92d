/**
 * Trust II, item 3, in Chromium: a group's history rule, shown in the members panel and chosen by
 * its admin, holds exactly as it reads. Under "new members see messages from when they join"
 * (the default) Cleo, removed and added back, cannot read "Secret plan" sent while she was out,
 * and Dev, added later, sees the earlier messages as "Sent before you joined", never as waiting
 * for a key. Under "new members can read the history" both read everything.
 */
import { expect, test, type Page } from '@playwright/test';
import { createGroup, message, openConversation, screenshot, send, userSession } from './helpers';

// Four people in four browsers, each signing up: more than the default minute.
test.describe.configure({ timeout: 240_000 });

const JOINED = 'New members see messages from when they join';
const SHARED = 'New members can read the history';

/** Opens the members panel of the open group. */
async function members(page: Page) {
	await page.getByRole('button', { name: 'Members' }).click();
	return page.getByRole('dialog');
}

async function addMember(page: Page, username: string) {
	const dialog = page.getByRole('dialog');
	await dialog.getByLabel('Add member by username').fill(username);
	await dialog.getByRole('button', { name: 'Add', exact: true }).click();
	await expect(dialog.getByRole('status')).toHaveText(`Added @${username}.`);
}

/** The closed messages of the open conversation that say `reason`. */
function locked(page: Page, reason: RegExp) {
	return page.getByTestId('message-text').filter({ hasText: reason });
}

test('under the default rule, a member removed and added back and a member added later see only what follows their joining', async ({
	browser
}) => {
	const ana = await userSession(browser, 'Ana');
	const bo = await userSession(browser, 'Bo');
	const cleo = await userSession(browser, 'Cleo');
	const dev = await userSession(browser, 'Dev');
	const title = `Plans ${Math.random().toString(36).slice(2, 6)}`;

	await createGroup(ana.page, title, [bo.user.username, cleo.user.username]);
	await send(ana.page, 'Hello all');
	await openConversation(cleo.page, title);
	await expect(message(cleo.page, 'Hello all')).toBeVisible();

	// The panel shows the rule: the admin may change it, a member only reads it.
	let dialog = await members(ana.page);
	await expect(dialog.getByRole('radio', { name: JOINED })).toBeChecked();
	await expect(dialog.getByRole('radio', { name: SHARED })).not.toBeChecked();
	await openConversation(bo.page, title);
	const boDialog = await members(bo.page);
	await expect(boDialog.getByTestId('history-rule-text')).toHaveText(JOINED);
	await expect(boDialog.getByRole('radio')).toHaveCount(0);
	await boDialog.getByRole('button', { name: 'Close' }).click();

	// Cleo is removed; "Secret plan" is sent while she is out; she is added back, and Dev joins.
	await dialog.getByRole('button', { name: `Remove ${cleo.user.displayName}` }).click();
	await expect(dialog.getByTestId('member')).toHaveCount(2);
	await dialog.getByRole('button', { name: 'Close' }).click();
	await send(ana.page, 'Secret plan');
	await expect(message(bo.page, 'Secret plan')).toBeVisible();
	dialog = await members(ana.page);
	await addMember(ana.page, cleo.user.username);
	await addMember(ana.page, dev.user.username);
	await dialog.getByRole('button', { name: 'Close' }).click();
	await send(ana.page, 'Welcome back');

	await cleo.page.reload();
	await openConversation(cleo.page, title);
	await expect(message(cleo.page, 'Welcome back')).toBeVisible();
	await expect(message(cleo.page, 'Hello all')).toBeVisible();
	await expect(cleo.page.getByText('Secret plan')).toHaveCount(0);
	await expect(locked(cleo.page, /Sent before you joined/)).toHaveCount(1);

	await openConversation(dev.page, title);
	await expect(message(dev.page, 'Welcome back')).toBeVisible();
	await expect(locked(dev.page, /Sent before you joined/)).toHaveCount(2);
	await expect(dev.page.getByText(/Waiting for a member/)).toHaveCount(0);
	await expect(dev.page.getByText('Secret plan')).toHaveCount(0);
	await screenshot(dev.page, 'history-joined-newcomer');

	for (const session of [ana, bo, cleo, dev]) await session.context.close();
});

test('under "new members can read the history", a member removed and added back and a member added later read everything', async ({
	browser
}) => {
	const ana = await userSession(browser, 'Ana');
	const bo = await userSession(browser, 'Bo');
	const cleo = await userSession(browser, 'Cleo');
	const dev = await userSession(browser, 'Dev');
	const title = `Plans ${Math.random().toString(36).slice(2, 6)}`;

	await createGroup(ana.page, title, [bo.user.username, cleo.user.username]);
	await openConversation(bo.page, title);
	const boDialog = await members(bo.page);
	await expect(boDialog.getByTestId('history-rule-text')).toHaveText(JOINED);

	// The admin switches the rule; the members' panels follow at once.
	let dialog = await members(ana.page);
	await dialog.getByRole('radio', { name: SHARED }).check();
	await expect(dialog.getByRole('status')).toHaveText(`History rule changed: ${SHARED.toLowerCase()}.`);
	await expect(boDialog.getByTestId('history-rule-text')).toHaveText(SHARED);
	await boDialog.getByRole('button', { name: 'Close' }).click();
	await screenshot(ana.page, 'history-rule-panel');
	await dialog.getByRole('button', { name: 'Close' }).click();

	await send(ana.page, 'Hello all');
	await openConversation(cleo.page, title);
	await expect(message(cleo.page, 'Hello all')).toBeVisible();
	dialog = await members(ana.page);
	await dialog.getByRole('button', { name: `Remove ${cleo.user.displayName}` }).click();
	await expect(dialog.getByTestId('member')).toHaveCount(2);
	await dialog.getByRole('button', { name: 'Close' }).click();
	await send(ana.page, 'Secret plan');
	await expect(message(bo.page, 'Secret plan')).toBeVisible();
	dialog = await members(ana.page);
	await addMember(ana.page, cleo.user.username);
	await addMember(ana.page, dev.user.username);
	await dialog.getByRole('button', { name: 'Close' }).click();

	await cleo.page.reload();
	await openConversation(cleo.page, title);
	await expect(message(cleo.page, 'Hello all')).toBeVisible();
	await expect(message(cleo.page, 'Secret plan')).toBeVisible();

	await openConversation(dev.page, title);
	await expect(message(dev.page, 'Hello all')).toBeVisible();
	await expect(message(dev.page, 'Secret plan')).toBeVisible();
	await expect(dev.page.getByText(/Sent before you joined|Waiting for a member/)).toHaveCount(0);

	for (const session of [ana, bo, cleo, dev]) await session.context.close();
});
