import { expect, test } from '@playwright/test';
import { newUser, signIn, signUp } from './helpers';

test('sign up, sign out, sign in, and protected pages send visitors to sign in', async ({ page }) => {
	await page.goto('/profile');
	await expect(page).toHaveURL(/\/login\?next=%2Fprofile/);
	await expect(page.getByRole('heading', { level: 1 })).toHaveText(/Sign in/);
	await page.screenshot({ path: 'test-results/screens/login.png' });

	const user = newUser('Sam');
	await signUp(page, user);
	await page.screenshot({ path: 'test-results/screens/home-signed-in.png' });

	// Profile: display name and avatar.
	await page.getByRole('link', { name: /Your profile/ }).click();
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('Profile');
	await page.getByLabel('Display name').fill(`${user.displayName} Renamed`);
	await page.getByLabel('Avatar URL').fill('https://example.test/avatar.png');
	await page.getByRole('button', { name: 'Save profile' }).click();
	await expect(page.getByRole('status').filter({ hasText: 'Profile saved.' })).toBeVisible();
	await expect(page.getByRole('link', { name: `Your profile: ${user.displayName} Renamed` })).toBeVisible();
	user.displayName = `${user.displayName} Renamed`;

	await page.getByRole('button', { name: 'Sign out' }).first().click();
	await expect(page).toHaveURL(/\/login$/);
	await page.goto('/');
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('Parley');
	await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();

	// A wrong password is refused with a message.
	await page.goto('/login');
	await page.getByLabel('Email').fill(user.email);
	await page.getByLabel('Password').fill('not the password');
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.getByRole('alert')).toContainText('do not match');

	await signIn(page, user);
	await page.goto('/login');
	await expect(page).toHaveURL(/\/$/);
});

test('a taken username gets a free variant, and the new user is told', async ({ page, browser }) => {
	const user = newUser('Tia');
	await signUp(page, user);
	const other = await browser.newContext();
	const second = await other.newPage();
	await second.goto('/signup');
	await second.getByLabel('Email').fill(`second-${user.email}`);
	await second.getByLabel('Password').fill(user.password);
	await second.getByLabel('Username').fill(user.username);
	await second.getByRole('button', { name: 'Create account' }).click();
	await expect(second).toHaveURL(/\/profile\?taken=/);
	await expect(second.getByTestId('username-taken')).toContainText(`“${user.username}” was taken`);
	await expect(second.getByText(`@${user.username}`, { exact: true })).toHaveCount(0);
	await other.close();
});
