import { expect, test, type Page } from '@playwright/test';
import { composer, message, openConversation, send, startDirect, userSession } from './helpers';

// Three people signing up: more than the default minute.
test.describe.configure({ timeout: 180_000 });

/** Every draft record this browser profile holds (all users), as stored. */
function storedDrafts(page: Page): Promise<{ conversation_id: string; raw: string }[]> {
	return page.evaluate(async () => {
		const names = (await indexedDB.databases())
			.map((d) => d.name ?? '')
			.filter((name) => name.startsWith('parley-drafts:'));
		const records: { conversation_id: string; raw: string }[] = [];
		for (const name of names) {
			const db = await new Promise<IDBDatabase>((resolve, reject) => {
				const req = indexedDB.open(name);
				req.onsuccess = () => resolve(req.result);
				req.onerror = () => reject(req.error);
			});
			if (db.objectStoreNames.contains('drafts')) {
				const all = await new Promise<{ conversation_id: string }[]>((resolve, reject) => {
					const req = db.transaction('drafts', 'readonly').objectStore('drafts').getAll();
					req.onsuccess = () => resolve(req.result);
					req.onerror = () => reject(req.error);
				});
				for (const r of all) records.push({ conversation_id: r.conversation_id, raw: JSON.stringify(r) });
			}
			db.close();
		}
		return records;
	});
}

/** Waits until the conversation's draft is stored (sealed: its text nowhere in the record). */
async function expectStoredDraft(page: Page, conversationId: string, plaintext: string) {
	await expect
		.poll(async () => (await storedDrafts(page)).filter((d) => d.conversation_id === conversationId).length)
		.toBe(1);
	const [record] = (await storedDrafts(page)).filter((d) => d.conversation_id === conversationId);
	expect(record.raw).not.toContain(plaintext);
}

test('a draft is kept, sealed, across reloads and chat switches, and is gone once sent', async ({
	browser
}) => {
	const ann = await userSession(browser, 'Ann');
	const bob = await userSession(browser, 'Bob');
	const cal = await userSession(browser, 'Cal');
	const withCal = await startDirect(ann.page, cal.user.username);
	await send(ann.page, 'Hi Cal');
	const withBob = await startDirect(ann.page, bob.user.username);
	await send(ann.page, 'Hi Bob');
	await openConversation(bob.page, ann.user.displayName);
	await send(bob.page, 'Are you coming tonight?');
	await expect(message(ann.page, 'Are you coming tonight?')).toBeVisible();

	// Ann starts a reply to Bob and reloads before sending it.
	const forBob = 'Probably, the secret word is marmalade';
	await message(ann.page, 'Are you coming tonight?').getByRole('button', { name: 'Reply' }).click();
	await composer(ann.page).fill(forBob);
	await expectStoredDraft(ann.page, withBob, 'marmalade');
	await ann.page.reload();
	await expect(composer(ann.page)).toHaveValue(forBob);
	await expect(ann.page.getByTestId('composer-context')).toContainText(`Replying to ${bob.user.displayName}`);

	// Another chat has its own draft; switching back and forth keeps both.
	await openConversation(ann.page, cal.user.displayName);
	await expect(composer(ann.page)).toHaveValue('');
	await expect(ann.page.getByTestId('composer-context')).toHaveCount(0);
	const forCal = 'Half a thought for Cal';
	await composer(ann.page).fill(forCal);
	await openConversation(ann.page, bob.user.displayName);
	await expect(composer(ann.page)).toHaveValue(forBob);
	await openConversation(ann.page, cal.user.displayName);
	await expect(composer(ann.page)).toHaveValue(forCal);
	await expectStoredDraft(ann.page, withCal, 'Half a thought');

	// Editing a sent message puts the draft aside and gives it back.
	await message(ann.page, 'Hi Cal').getByRole('button', { name: 'Edit' }).click();
	await expect(composer(ann.page)).toHaveValue('Hi Cal');
	await composer(ann.page).press('Escape');
	await expect(composer(ann.page)).toHaveValue(forCal);

	// Sent: the box empties and stays empty after a reload; nothing is left stored.
	await composer(ann.page).press('Enter');
	await expect(message(ann.page, forCal)).toBeVisible();
	await expect(composer(ann.page)).toHaveValue('');
	await expect
		.poll(async () => (await storedDrafts(ann.page)).filter((d) => d.conversation_id === withCal).length)
		.toBe(0);
	await ann.page.reload();
	await expect(message(ann.page, forCal)).toBeVisible();
	await expect(composer(ann.page)).toHaveValue('');

	// Bob's draft survived all of that, and sending it (as the reply) clears it too.
	await openConversation(ann.page, bob.user.displayName);
	await expect(composer(ann.page)).toHaveValue(forBob);
	await composer(ann.page).press('Enter');
	await expect(message(bob.page, forBob).getByTestId('message-quote')).toContainText(
		'Are you coming tonight?'
	);
	await ann.page.reload();
	await expect(message(ann.page, forBob)).toBeVisible();
	await expect(composer(ann.page)).toHaveValue('');
	await expect(ann.page.getByTestId('composer-context')).toHaveCount(0);
	await expect.poll(() => storedDrafts(ann.page)).toEqual([]);

	await ann.context.close();
	await bob.context.close();
	await cal.context.close();
});
