/** What the end-to-end specs share: unique users, and the few steps every scenario repeats. */
import { expect, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';
import pg from 'pg';
import { DB_PORT } from './ports.ts';

export interface TestUser {
	email: string;
	password: string;
	username: string;
	displayName: string;
}

/** A user no other test (or earlier run on the same database) has used. */
export function newUser(name: string): TestUser {
	const suffix = Math.random().toString(36).slice(2, 8);
	const username = `${name.toLowerCase()}_${suffix}`;
	return {
		email: `${username}@example.test`,
		password: `pw-${suffix}-Secret!`,
		username,
		displayName: `${name} ${suffix.toUpperCase()}`
	};
}

export async function signUp(page: Page, user: TestUser): Promise<void> {
	await page.goto('/signup');
	await page.getByLabel('Email').fill(user.email);
	await page.getByLabel('Password').fill(user.password);
	await page.getByLabel('Username').fill(user.username);
	await page.getByLabel('Display name').fill(user.displayName);
	await page.getByRole('button', { name: 'Create account' }).click();
	await expect(page).toHaveURL(/\/$/);
	await expect(page.getByRole('link', { name: `Your profile: ${user.displayName}` })).toBeVisible();
	// The list only leaves its loading state once the app runs in the browser (hydrated, chat started).
	await expect(page.getByText('No conversations yet.')).toBeVisible();
}

/** Waits until the signed-in app is hydrated and has loaded its conversation list. */
export async function appReady(page: Page): Promise<void> {
	await expect(page.getByText('Loading conversations…')).toHaveCount(0);
	await expect(page.getByRole('navigation', { name: 'Conversation list' })).toBeVisible();
}

export async function signIn(page: Page, user: TestUser): Promise<void> {
	await page.goto('/login');
	await page.getByLabel('Email').fill(user.email);
	await page.getByLabel('Password').fill(user.password);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.getByRole('link', { name: `Your profile: ${user.displayName}` })).toBeVisible();
	await appReady(page);
}

/** A signed-up user in a browser context of their own (own cookies, own IndexedDB keys). */
export async function userSession(
	browser: Browser,
	name: string
): Promise<{ user: TestUser; context: BrowserContext; page: Page }> {
	const context = await browser.newContext();
	const page = await context.newPage();
	const user = newUser(name);
	await signUp(page, user);
	return { user, context, page };
}

export async function startDirect(page: Page, username: string): Promise<string> {
	await page.getByRole('link', { name: /New conversation/ }).click();
	await page.getByRole('region', { name: 'Direct message' }).getByLabel('Username').fill(username);
	await page.getByRole('button', { name: 'Start chat' }).click();
	await expect(page).toHaveURL(/\/c\/[0-9a-f-]{36}$/);
	return page.url().split('/c/')[1];
}

export async function createGroup(page: Page, title: string, usernames: string[]): Promise<string> {
	await page.getByRole('link', { name: /New conversation/ }).click();
	const group = page.getByRole('region', { name: 'Group' });
	await group.getByLabel('Group title').fill(title);
	for (const username of usernames) {
		await group.getByLabel('Add member by username').fill(username);
		await group.getByRole('button', { name: 'Add', exact: true }).click();
		await expect(group.getByRole('list', { name: 'Members to add' })).toContainText(`@${username}`);
	}
	await group.getByRole('button', { name: 'Create group' }).click();
	await expect(page).toHaveURL(/\/c\/[0-9a-f-]{36}$/);
	return page.url().split('/c/')[1];
}

export function composer(page: Page): Locator {
	return page.getByRole('textbox', { name: 'Message' });
}

export async function send(page: Page, text: string): Promise<void> {
	await composer(page).fill(text);
	await composer(page).press('Enter');
}

/** The message bubble holding exactly `text`. */
export function message(page: Page, text: string): Locator {
	return page
		.getByTestId('message')
		.filter({ has: page.getByTestId('message-text').getByText(text, { exact: true }) });
}

export async function openConversation(page: Page, name: string): Promise<void> {
	await page.getByRole('navigation', { name: 'Conversation list' }).getByRole('link', { name }).click();
	await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

export async function screenshot(page: Page, name: string): Promise<void> {
	await page.screenshot({ path: `test-results/screens/${name}.png` });
}

/** The database as its superuser, for what a compromised server could do to stored rows. */
export async function superuser<T>(work: (db: pg.Client) => Promise<T>): Promise<T> {
	const db = new pg.Client({
		host: '127.0.0.1',
		port: DB_PORT,
		user: 'postgres',
		password: 'postgres',
		database: 'postgres'
	});
	await db.connect();
	try {
		return await work(db);
	} finally {
		await db.end();
	}
}
