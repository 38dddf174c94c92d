/**
 * The delivery worker end to end: real PostgreSQL with the app migrations, real pg-boss, real
 * web-push, and a real push endpoint that verifies VAPID and decrypts every payload.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createScene, DEAD_LETTER_QUEUE, QUEUE, type Scene } from './testing/harness.ts';
import {
	markDelivered,
	sendMessage,
	groupConversation,
	createUser,
	directConversation,
	savePushSubscription,
	setNotificationLevel
} from './testing/chat.ts';
import { getStatus, redrive } from './status.ts';

let scene: Scene | undefined;
afterEach(async () => {
	await scene?.dispose();
	scene = undefined;
});

async function waitUntil(predicate: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
	const end = Date.now() + timeoutMs;
	while (!(await predicate())) {
		if (Date.now() > end) throw new Error('timed out');
		await new Promise((r) => setTimeout(r, 20));
	}
}

const ALLOWED_KEYS = [
	'body',
	'conversation_id',
	'count',
	'mentioned',
	'sender_name',
	'seq',
	'tag',
	'title',
	'type',
	'url',
	'v'
];

describe('delivery worker', () => {
	it('pushes once to an offline recipient, signed with the stored VAPID key, with no message content', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation, browser } = scene;
		await scene.start();
		const secret = `PLAINTEXT-SECRET-${Math.random().toString(36).slice(2)}`;
		const seq = await sendMessage(pool, alice, conversation, secret);

		await service.waitFor(() => service.deliveries.length === 1, 10_000, 'a push');
		await scene.idle();
		expect(service.errors).toEqual([]);
		expect(service.deliveriesFor(browser.id)).toHaveLength(1);
		const [delivery] = service.deliveries;
		expect(delivery.raw).not.toContain(secret);
		expect(Object.keys(delivery.payload).sort()).toEqual(ALLOWED_KEYS);
		expect(delivery.payload).toMatchObject({
			conversation_id: conversation,
			title: 'Alice',
			sender_name: 'Alice',
			body: 'New message',
			count: 1,
			seq,
			url: `/c/${conversation}`
		});
		expect(delivery.topic).toBe(conversation.replaceAll('-', ''));
		const { rows } = await pool.query('select public_key from delivery.vapid_keys');
		expect(service.expectedKey).toBe(rows[0].public_key);
		// The ledger remembers it: the same seq is never pushed again.
		const ledger = await pool.query('select notified_seq, notification_count from delivery.push_deliveries');
		expect(ledger.rows).toEqual([{ notified_seq: String(seq), notification_count: 1 }]);
	});

	it('does not push to a recipient who acknowledged the message during the grace period', async () => {
		scene = await createScene();
		const { pool, service, alice, bob, conversation } = scene;
		await scene.start({ graceMs: 600 });
		const seq = await sendMessage(pool, alice, conversation, 'ciphertext');
		// The job exists and waits out the grace period; then Bob's client acknowledges.
		await waitUntil(async () => (await getStatus(pool)).queues[QUEUE].created === 1);
		await markDelivered(pool, bob, conversation, seq);
		await scene.idle();
		const status = await getStatus(pool);
		expect(status.queues[QUEUE].completed).toBeGreaterThanOrEqual(1);
		expect(service.attempts).toEqual([]);

		// Control: the next message, not acknowledged, is pushed.
		await sendMessage(pool, alice, conversation, 'ciphertext 2');
		await service.waitFor(() => service.deliveries.length === 1, 10_000, 'a push');
		expect(service.deliveries[0].payload.seq).toBe(seq + 1);
	});

	it('wakes for every job of a pump when its own grace period ends, not at the next poll', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation, browser } = scene;
		const carol = await createUser(pool, 'Carol');
		const carolBrowser = service.subscribe();
		await savePushSubscription(pool, carol, carolBrowser);
		const toCarol = await directConversation(pool, alice, carol);
		// Both messages wait in the outbox, so the worker's first pump takes both jobs; their grace
		// periods end 400 ms apart, and the queue poll (5 s) is far behind either.
		await sendMessage(pool, alice, conversation, 'first');
		await new Promise((r) => setTimeout(r, 400));
		const secondAt = Date.now();
		await sendMessage(pool, alice, toCarol, 'second');
		const graceMs = 1500;
		await scene.start({ graceMs }, { pumpMs: 5000, pollMs: 5000 });
		await service.waitFor(
			() => service.deliveriesFor(carolBrowser.id).length === 1,
			10_000,
			'the second push'
		);
		const secondPushedAfter = Date.now() - secondAt;
		expect(service.deliveriesFor(browser.id)).toHaveLength(1);
		expect(secondPushedAfter).toBeGreaterThanOrEqual(graceMs - 50);
		expect(secondPushedAfter).toBeLessThan(graceMs + 1500);
	});

	it('coalesces a burst of 5 messages into one notification', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation } = scene;
		await scene.start({ graceMs: 500 });
		for (let i = 0; i < 5; i++) await sendMessage(pool, alice, conversation, `burst ${i}`);
		await service.waitFor(() => service.deliveries.length >= 1, 10_000, 'a push');
		await scene.idle();
		await new Promise((r) => setTimeout(r, 300));
		expect(service.deliveries).toHaveLength(1);
		expect(service.deliveries[0].payload).toMatchObject({ count: 5, seq: 5, body: '5 new messages' });
	});

	it('notifies every subscription of every offline member of a group, never the sender', async () => {
		scene = await createScene();
		const { pool, service, alice, bob } = scene;
		const carol = await createUser(pool, 'Carol');
		const carolPhone = service.subscribe();
		const carolLaptop = service.subscribe();
		await savePushSubscription(pool, carol, carolPhone);
		await savePushSubscription(pool, carol, carolLaptop);
		const aliceBrowser = service.subscribe();
		await savePushSubscription(pool, alice, aliceBrowser);
		const group = await groupConversation(pool, alice, 'Project X', [bob, carol]);
		await scene.start();
		await sendMessage(pool, alice, group, 'hello group');
		await service.waitFor(() => service.deliveries.length === 3, 10_000, 'three pushes');
		await scene.idle();
		expect(service.deliveriesFor(aliceBrowser.id)).toEqual([]);
		expect(service.deliveriesFor(carolPhone.id)).toHaveLength(1);
		expect(service.deliveriesFor(carolLaptop.id)).toHaveLength(1);
		expect(service.deliveriesFor(scene.browser.id)[0].payload).toMatchObject({
			title: 'Project X',
			body: 'Alice: New message'
		});
	});

	it('retries 5xx with exponential backoff and delivers on the third attempt', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation, browser } = scene;
		const base = 300;
		service.script(browser.id, { status: 500 }, { status: 503 });
		await scene.start({ backoffMs: base });
		await sendMessage(pool, alice, conversation, 'x');
		await service.waitFor(() => service.deliveries.length === 1, 15_000, 'a push');
		await scene.idle();
		const attempts = service.attemptsFor(browser.id);
		expect(attempts.map((a) => a.outcome)).toEqual(['500', '503', '201']);
		const gap1 = attempts[1].at - attempts[0].at;
		const gap2 = attempts[2].at - attempts[1].at;
		expect(gap1).toBeGreaterThanOrEqual(base);
		expect(gap2).toBeGreaterThanOrEqual(2 * base);
		expect(service.deliveries).toHaveLength(1);
	});

	it('honours Retry-After on 429 and retries a timed-out request', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation, browser } = scene;
		service.script(browser.id, { status: 429, retryAfter: '1' }, { timeout: true });
		await scene.start({ backoffMs: 100, pushTimeoutMs: 500 });
		await sendMessage(pool, alice, conversation, 'x');
		await service.waitFor(() => service.deliveries.length === 1, 15_000, 'a push');
		const attempts = service.attemptsFor(browser.id);
		expect(attempts.map((a) => a.outcome)).toEqual(['429', 'timeout', '201']);
		// Retry-After (1 s) wins over the 100 ms backoff.
		expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(1000);
		expect(scene.logs.some((l) => l.event === 'push.retry' && l.error === 'timeout')).toBe(true);
	});

	it('dead-letters a job after the last attempt, shows it in status, and redrives it', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation, browser, url } = scene;
		service.script(browser.id, { status: 500 }, { status: 500 }, { status: 502 });
		await scene.start({ backoffMs: 100 });
		await sendMessage(pool, alice, conversation, 'x');
		await service.waitFor(() => service.attemptsFor(browser.id).length === 3, 15_000, 'three attempts');
		await scene.idle();
		const status = await getStatus(pool);
		expect(status.queues[QUEUE].failed).toBe(1);
		expect(status.queues[DEAD_LETTER_QUEUE].created).toBe(1);
		expect(service.deliveries).toHaveLength(0);

		expect(await redrive(url)).toBe(1);
		await service.waitFor(() => service.deliveries.length === 1, 10_000, 'the redriven push');
		await scene.idle();
		expect(service.attemptsFor(browser.id).map((a) => a.outcome)).toEqual(['500', '500', '502', '201']);
		expect((await getStatus(pool)).queues[DEAD_LETTER_QUEUE].created ?? 0).toBe(0);
	});

	it('deletes a subscription the push service reports gone (410)', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation, browser, subscriptionId } = scene;
		service.script(browser.id, { status: 410 });
		await scene.start();
		await sendMessage(pool, alice, conversation, 'x');
		await service.waitFor(() => service.attemptsFor(browser.id).length === 1, 10_000, 'an attempt');
		await scene.idle();
		const { rows } = await pool.query('select 1 from public.push_subscriptions where id = $1', [
			subscriptionId
		]);
		expect(rows).toEqual([]);
		const status = await getStatus(pool);
		expect(status.queues[QUEUE].completed).toBe(1);
		expect(status.queues[QUEUE].failed ?? 0).toBe(0);
		// Later messages find no subscription and send nothing.
		await sendMessage(pool, alice, conversation, 'y');
		await scene.idle();
		expect(service.attempts).toHaveLength(1);
	});

	it('catches up on messages sent while the worker was down', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation } = scene;
		await sendMessage(pool, alice, conversation, 'while down 1');
		await sendMessage(pool, alice, conversation, 'while down 2');
		expect((await getStatus(pool)).outbox.pending).toBe(2);
		await scene.start();
		await service.waitFor(() => service.deliveries.length === 1, 10_000, 'a push');
		await scene.idle();
		expect(service.deliveries).toHaveLength(1);
		expect(service.deliveries[0].payload).toMatchObject({ count: 2, seq: 2 });
	});
});

describe('delivery worker: notification levels and mutes (decided in SQL)', () => {
	/** A group of Alice (the sender) and subscribed members with the given levels. */
	async function groupWith(
		levels: Record<string, { level: 'all' | 'mentions' | 'none'; muted?: string | null }>
	) {
		scene = await createScene();
		const { pool, service, alice } = scene;
		const members: Record<string, { id: string; browser: string }> = {};
		for (const name of Object.keys(levels)) {
			const id = await createUser(pool, name);
			const browser = service.subscribe();
			await savePushSubscription(pool, id, browser);
			members[name] = { id, browser: browser.id };
		}
		const group = await groupConversation(
			pool,
			alice,
			'Levels',
			Object.values(members).map((m) => m.id)
		);
		for (const [name, { level, muted }] of Object.entries(levels)) {
			await setNotificationLevel(pool, members[name].id, group, level, muted ?? null);
		}
		return { group, members };
	}

	it('pushes a "mentions" member only when mentioned, and "none" and muted members never', async () => {
		const { group, members } = await groupWith({
			Allie: { level: 'all' },
			Mona: { level: 'mentions' },
			Nora: { level: 'none' },
			Hugo: { level: 'all', muted: new Date(Date.now() + 3600_000).toISOString() },
			Fred: { level: 'mentions', muted: 'infinity' }
		});
		const { pool, service, alice } = scene!;
		await scene!.start();
		const pushes = (name: string) => service.deliveriesFor(members[name].browser);

		await sendMessage(pool, alice, group, 'no mention');
		await service.waitFor(() => pushes('Allie').length === 1, 10_000, "Allie's push");
		await scene!.idle();
		expect(pushes('Mona')).toEqual([]);

		const ids = ['Mona', 'Nora', 'Hugo', 'Fred'].map((name) => members[name].id);
		const seq = await sendMessage(pool, alice, group, 'hey all of you', ids);
		await service.waitFor(() => pushes('Mona').length === 1, 10_000, "Mona's push");
		await service.waitFor(() => pushes('Allie').length === 2, 10_000, "Allie's second push");
		await scene!.idle();
		// Mona's notification is about the one message that mentions her.
		expect(pushes('Mona')[0].payload).toMatchObject({
			seq,
			count: 1,
			body: 'Alice mentioned you',
			mentioned: true
		});
		expect(pushes('Allie')[1].payload).toMatchObject({ seq, count: 2, mentioned: false });
		// Not even attempted.
		for (const name of ['Nora', 'Hugo', 'Fred'])
			expect(service.attemptsFor(members[name].browser), name).toEqual([]);
	});

	it('a mute set while the push waits out its grace period stops it; unmuted, the next message is pushed', async () => {
		scene = await createScene();
		const { pool, service, alice, bob, conversation, browser } = scene;
		await scene.start({ graceMs: 800 });
		await sendMessage(pool, alice, conversation, 'soon muted');
		await waitUntil(async () => (await getStatus(pool)).queues[QUEUE].created === 1);
		await setNotificationLevel(pool, bob, conversation, 'all', 'infinity');
		await scene.idle();
		await sendMessage(pool, alice, conversation, 'while muted');
		await scene.idle();
		expect(service.attemptsFor(browser.id)).toEqual([]);

		await setNotificationLevel(pool, bob, conversation, 'all', null);
		const seq = await sendMessage(pool, alice, conversation, 'after unmuting');
		await service.waitFor(() => service.deliveriesFor(browser.id).length === 1, 10_000, 'a push');
		expect(service.deliveriesFor(browser.id)[0].payload).toMatchObject({ seq });
	});

	it('a level changed to "mentions" while the push waits sends nothing for an unmentioning burst', async () => {
		scene = await createScene();
		const { pool, service, alice, bob, conversation, browser } = scene;
		await scene.start({ graceMs: 800 });
		await sendMessage(pool, alice, conversation, 'one');
		await sendMessage(pool, alice, conversation, 'two');
		await waitUntil(async () => (await getStatus(pool)).queues[QUEUE].created === 1);
		await setNotificationLevel(pool, bob, conversation, 'mentions');
		await scene.idle();
		expect(service.attemptsFor(browser.id)).toEqual([]);
		const seq = await sendMessage(pool, alice, conversation, '@bob look', [bob]);
		await service.waitFor(() => service.deliveriesFor(browser.id).length === 1, 10_000, 'the mention push');
		expect(service.deliveriesFor(browser.id)[0].payload).toMatchObject({ seq, count: 1 });
	});
});
