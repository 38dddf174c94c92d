import { expect, test, type Page } from '@playwright/test';
import { composer, openConversation, send, startDirect, userSession } from './helpers';
import { png } from './png';

// Two people, thirty messages, pictures and a voice message: more than the default minute.
test.describe.configure({ timeout: 240_000 });

const list = (page: Page) => page.getByTestId('message-list');
/** The bubble whose text contains `marker` (the texts here are several lines long). */
// `place-1` must not match `place-10`: the marker followed by anything but a digit.
const bubble = (page: Page, marker: string) =>
	page.getByTestId('message').filter({ hasText: new RegExp(`${marker}(?!\\d)`) });
const jump = (page: Page) => page.getByRole('button', { name: /Jump to latest/ });

/** How far the message list is from its bottom (px). */
function fromBottom(page: Page): Promise<number> {
	return list(page).evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
}

/**
 * The list is at its bottom with the newest message in view, and stays there once rows have
 * rendered at their real heights and pictures have decoded (what a single scroll used to miss).
 */
async function expectAtNewest(page: Page) {
	await expect.poll(() => fromBottom(page), { timeout: 15_000 }).toBeLessThanOrEqual(3);
	await expect(page.getByTestId('message').last()).toBeInViewport();
	await page.waitForTimeout(800);
	expect(await fromBottom(page)).toBeLessThanOrEqual(3);
	await expect(page.getByTestId('message').last()).toBeInViewport();
	await expect(jump(page)).toHaveCount(0);
}

/** A message several lines tall, findable by `marker`. */
const tall = (marker: string, lines = 4) =>
	[marker, ...Array.from({ length: lines }, (_, i) => `line ${i + 1} of ${marker}`)].join('\n');

test('the timeline opens at the newest message, or at the first unread, by any route and at phone size', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const ben = await userSession(browser, 'Ben');
	const id = await startDirect(ada.page, ben.user.username);

	// Thirty messages of five lines each: several screens of history.
	for (let i = 1; i <= 30; i++) await send(ada.page, tall(`place-${i}`));
	await expect(bubble(ada.page, 'place-30')).toHaveAttribute('data-status', /^(sent|delivered|read)$/);
	await expectAtNewest(ada.page);

	// Opening by URL (a full page load), after a reload, from the list.
	await ada.page.goto(`/c/${id}`);
	await expect(bubble(ada.page, 'place-30')).toBeVisible();
	await expectAtNewest(ada.page);
	await ada.page.reload();
	await expect(bubble(ada.page, 'place-30')).toBeVisible();
	await expectAtNewest(ada.page);
	await ada.page.goto('/');
	await openConversation(ada.page, ben.user.displayName);
	await expectAtNewest(ada.page);

	// A phone (390×844): by URL and after a reload.
	await ada.page.setViewportSize({ width: 390, height: 844 });
	await ada.page.goto(`/c/${id}`);
	await expect(bubble(ada.page, 'place-30')).toBeVisible();
	await expectAtNewest(ada.page);
	await ada.page.reload();
	await expect(bubble(ada.page, 'place-30')).toBeVisible();
	await expectAtNewest(ada.page);

	// Ben has not read any of them: he opens at the first, under a "New messages" divider.
	await openConversation(ben.page, ada.user.displayName);
	const divider = ben.page.getByTestId('unread-divider');
	await expect(divider).toHaveText('New messages');
	await expect(divider).toBeInViewport();
	await expect(bubble(ben.page, 'place-1')).toBeInViewport();
	await expect(bubble(ben.page, 'place-30')).not.toBeInViewport();
	expect(await fromBottom(ben.page)).toBeGreaterThan(200);
	await expect(jump(ben.page)).toContainText('30');
	await jump(ben.page).click();
	await expectAtNewest(ben.page);

	await ada.context.close();
	await ben.context.close();
});

test('at the bottom, the view stays there as a long message, a picture and a voice message arrive', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const ben = await userSession(browser, 'Ben');
	await startDirect(ada.page, ben.user.username);
	for (let i = 1; i <= 12; i++) await send(ada.page, tall(`before-${i}`));
	await openConversation(ben.page, ada.user.displayName);
	await expect(bubble(ben.page, 'before-12')).toBeAttached();
	// Twelve tall unread messages: the chat opens at the first of them, under the divider.
	await expect(jump(ben.page)).toBeVisible();
	await jump(ben.page).click();
	await expectAtNewest(ben.page);

	// A long message: taller than it first lays out.
	await send(ada.page, tall('long-one', 60));
	await expect(bubble(ben.page, 'long-one')).toBeVisible();
	await expectAtNewest(ben.page);
	await expectAtNewest(ada.page);

	// A picture: its height is only known once it is downloaded, decrypted and decoded.
	await ada.page
		.getByTestId('attach-input')
		.setInputFiles({ name: 'tall.png', mimeType: 'image/png', buffer: png(240, 320) });
	const picture = ben.page.getByTestId('attachment').getByRole('img');
	await expect(picture).toBeVisible();
	await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(320);
	await expectAtNewest(ben.page);
	await expectAtNewest(ada.page);

	// A voice message from the synthetic microphone: the player replaces its placeholder.
	await ada.page.getByRole('button', { name: 'Record a voice message' }).click();
	await ada.page.waitForTimeout(1200);
	await ada.page.getByRole('button', { name: 'Stop and send the voice message' }).click();
	const voice = ben.page.locator('[data-testid="attachment"][data-kind="voice"] audio');
	await expect(voice).toBeVisible();
	await expect
		.poll(() => voice.evaluate((audio: HTMLAudioElement) => audio.readyState), { timeout: 10_000 })
		.toBeGreaterThan(0);
	await expectAtNewest(ben.page);
	await expectAtNewest(ada.page);

	// The composer growing with a long draft keeps the newest message in view too.
	await composer(ben.page).fill(tall('draft', 5));
	await expectAtNewest(ben.page);

	await ada.context.close();
	await ben.context.close();
});

test('scrolled up, new messages leave the view where it is and "Jump to latest" counts them', async ({
	browser
}) => {
	const ada = await userSession(browser, 'Ada');
	const ben = await userSession(browser, 'Ben');
	await startDirect(ada.page, ben.user.username);
	for (let i = 1; i <= 20; i++) await send(ada.page, tall(`up-${i}`));
	await openConversation(ben.page, ada.user.displayName);
	await expect(bubble(ben.page, 'up-20')).toBeVisible();
	// Twenty unread messages: the chat opens at the first of them, under the divider.
	await expect(jump(ben.page)).toBeVisible();
	await jump(ben.page).click();
	await expectAtNewest(ben.page);

	// Ben scrolls up to the middle of the history, as the wheel would.
	await list(ben.page).hover();
	await ben.page.mouse.wheel(0, -1500);
	await expect.poll(() => fromBottom(ben.page)).toBeGreaterThan(1000);
	await expect(jump(ben.page)).toBeVisible();
	await expect(ben.page.getByTestId('new-count')).toHaveCount(0);
	await ben.page.waitForTimeout(500);
	const where = () =>
		list(ben.page).evaluate((el) => {
			const top = el.getBoundingClientRect().top;
			const first = [...el.querySelectorAll<HTMLElement>('[data-testid="message"]')].find(
				(m) => m.getBoundingClientRect().bottom > top
			);
			return {
				scrollTop: el.scrollTop,
				first: first?.textContent ?? '',
				offset: (first?.getBoundingClientRect().top ?? 0) - top
			};
		});
	const before = await where();

	// Two arrive: the view does not move, and the button counts them.
	await send(ada.page, 'arrived-1');
	await send(ada.page, tall('arrived-2', 10));
	await expect(jump(ben.page)).toContainText('2');
	await expect(jump(ben.page)).toHaveAccessibleName('Jump to latest, 2 new messages');
	await ben.page.waitForTimeout(500);
	const after = await where();
	expect(after.first).toBe(before.first);
	expect(Math.abs(after.offset - before.offset)).toBeLessThanOrEqual(2);
	expect(Math.abs(after.scrollTop - before.scrollTop)).toBeLessThanOrEqual(2);
	await expect(bubble(ben.page, 'arrived-2')).not.toBeInViewport();

	// Jumping goes to the newest and follows it again.
	await jump(ben.page).click();
	await expect(bubble(ben.page, 'arrived-2')).toBeInViewport();
	await expectAtNewest(ben.page);
	await send(ada.page, 'arrived-3');
	await expect(bubble(ben.page, 'arrived-3')).toBeInViewport();
	await expectAtNewest(ben.page);

	// Sending my own message while scrolled up brings me down to it.
	await list(ben.page).hover();
	await ben.page.mouse.wheel(0, -1500);
	await expect(jump(ben.page)).toBeVisible();
	await send(ben.page, 'mine, from up there');
	await expect(bubble(ben.page, 'mine, from up there')).toBeInViewport();
	await expectAtNewest(ben.page);

	await ada.context.close();
	await ben.context.close();
});
