import { expect, test } from '@playwright/test';

test('the home page loads in Chromium', async ({ page }) => {
	const response = await page.goto('/');
	expect(response?.status()).toBe(200);
	await expect(page.getByRole('heading', { level: 1 })).toHaveText(/Parley/);
	await page.screenshot({ path: 'test-results/screens/home.png', fullPage: true });
});
