import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { composer, openConversation, screenshot, startDirect, userSession } from './helpers';
import { png } from './png';

test.describe.configure({ timeout: 120_000 });

/** Every file under `dir` (the embedded stack's object store), recursively. */
function filesUnder(dir: string): string[] {
	return readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		return statSync(path).isDirectory() ? filesUnder(path) : [path];
	});
}

test('pictures, files and voice messages are sent end-to-end encrypted: the other side sees, downloads and plays them', async ({
	browser
}) => {
	const alice = await userSession(browser, 'Ada');
	const bob = await userSession(browser, 'Ben');
	const marker = `attachment-canary-${Math.random().toString(36).slice(2, 10)}`;

	await startDirect(alice.page, bob.user.username);
	await openConversation(bob.page, 'Ada');

	// A picture with a caption typed in the box first.
	await composer(alice.page).fill('the view from here');
	await alice.page
		.getByTestId('attach-input')
		.setInputFiles({ name: 'view.png', mimeType: 'image/png', buffer: png(40, 30) });
	const picture = bob.page.getByTestId('attachment').filter({ has: bob.page.getByRole('img') });
	await expect(picture.getByRole('img', { name: 'the view from here' })).toBeVisible();
	expect(await picture.getByRole('img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(40);
	await expect(composer(alice.page)).toHaveValue('');

	// A file: Bob downloads it and gets the same bytes.
	const document = `${marker}\nthe plan, in plain text\n`;
	await alice.page
		.getByTestId('attach-input')
		.setInputFiles({ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from(document) });
	const file = bob.page.getByRole('button', { name: /plan\.txt/ });
	await expect(file).toBeVisible();
	const [download] = await Promise.all([bob.page.waitForEvent('download'), file.click()]);
	expect(download.suggestedFilename()).toBe('plan.txt');
	expect(readFileSync(await download.path()).toString('utf8')).toBe(document);

	// The list previews them by name, decrypted on the device.
	const bobsPreview = bob.page
		.getByRole('navigation', { name: 'Conversation list' })
		.getByTestId('conversation-preview')
		.first();
	await expect(bobsPreview).toHaveText('📎 plan.txt');

	// A voice message, recorded from the (synthetic) microphone, plays on the other side.
	await alice.page.getByRole('button', { name: 'Record a voice message' }).click();
	await expect(alice.page.getByRole('button', { name: 'Stop and send the voice message' })).toBeVisible();
	await alice.page.waitForTimeout(1200);
	await alice.page.getByRole('button', { name: 'Stop and send the voice message' }).click();
	const voice = bob.page.locator('[data-testid="attachment"][data-kind="voice"] audio');
	await expect(voice).toBeVisible();
	await expect
		.poll(() => voice.evaluate((audio: HTMLAudioElement) => audio.readyState), { timeout: 10_000 })
		.toBeGreaterThan(0);
	await expect(bobsPreview).toHaveText('🎤 Voice message');

	await screenshot(bob.page, 'chat-attachments');

	// The object store holds only ciphertext.
	const stored = filesUnder(join(process.cwd(), '.stack/e2e-data/storage/attachments'));
	expect(stored.length).toBeGreaterThanOrEqual(2);
	for (const path of stored) expect(readFileSync(path).toString('latin1')).not.toContain(marker);
});
