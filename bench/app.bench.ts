/**
 * App benchmark in real Chromium (playwright-core, /usr/bin/chromium):
 *
 * 1. End-to-end latency: Enter pressed in one browser → the message painted in another
 *    (p50 / p95 over 100 messages, one at a time, both chats open).
 * 2. Opening a conversation that holds 10,000 messages (seeded through `send_message` with real
 *    ciphertexts from the core's crypto) until its newest message is painted.
 * 3. Gzip size of the JavaScript the first page loads, from a production `vite build` served by
 *    adapter-node.
 * All three use that production build (BENCH_APP=dev measures 1 and 2 on the Vite dev server).
 *
 * Starts `node scripts/dev.ts --fresh` itself (default ports, its own data folder) and stops it.
 * Prints figures beside their targets; never fails on timing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import pg from 'pg';
import { createClient } from '@supabase/supabase-js';
import { DEFAULT_ANON_KEY } from '@parley/stack/config.ts';
import { generateIdentity, newConversationKey, sealText, wrapKey } from '../src/lib/crypto/e2ee.ts';
import { percentile, report } from './support.ts';

const ROOT = join(import.meta.dirname, '..');
const APP = 'http://127.0.0.1:5173';
const API = 'http://127.0.0.1:54321';
const PROD_PORT = 4173;
/**
 * Where the browsers use the app: the production build (adapter-node), as people would, unless
 * BENCH_APP=dev asks for the Vite dev server (unbundled modules, Svelte's dev-mode checks).
 */
const APP_UNDER_TEST = process.env.BENCH_APP === 'dev' ? APP : `http://127.0.0.1:${PROD_PORT}`;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100);
const HISTORY = Number(process.env.BENCH_HISTORY ?? 10_000);
const DB = { host: '127.0.0.1', port: 54322, user: 'postgres', password: 'postgres', database: 'postgres' };
const env = {
	...process.env,
	// Tools started through their `#!/usr/bin/env node` shebang must find the project's Node 24.
	PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
	PARLEY_DATA_DIR: '.stack/bench-data',
	PUBLIC_SUPABASE_URL: API,
	PUBLIC_SUPABASE_ANON_KEY: DEFAULT_ANON_KEY
};

const children: ChildProcess[] = [];

async function waitFor(url: string, timeoutMs: number, init?: RequestInit): Promise<void> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		try {
			const response = await fetch(url, init);
			if (response.status < 500) return;
		} catch {
			// not up yet
		}
		if (Date.now() > end) throw new Error(`${url} did not come up in ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

function startProcess(command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
	const child = spawn(command, args, {
		cwd: ROOT,
		env: { ...env, ...extraEnv },
		stdio: ['ignore', 'ignore', 'inherit'],
		detached: true
	});
	children.push(child);
	return child;
}

async function stopAll(): Promise<void> {
	for (const child of children.reverse()) {
		if (child.exitCode !== null || !child.pid) continue;
		const exited = new Promise((r) => child.once('exit', r));
		// The process itself first, so dev.ts stops Vite and PostgreSQL in order; its group if it hangs.
		child.kill('SIGTERM');
		const timedOut = await Promise.race([
			exited.then(() => false),
			new Promise((r) => setTimeout(() => r(true), 20_000))
		]);
		if (timedOut) process.kill(-child.pid, 'SIGKILL');
	}
}

interface BenchUser {
	email: string;
	password: string;
	username: string;
	displayName: string;
}

function benchUser(name: string): BenchUser {
	const suffix = Math.random().toString(36).slice(2, 8);
	const username = `${name}_${suffix}`;
	return { email: `${username}@bench.test`, password: `bench-${suffix}-pw`, username, displayName: name };
}

async function signUp(page: Page, user: BenchUser): Promise<void> {
	await page.goto(`${APP_UNDER_TEST}/signup`);
	await page.getByLabel('Email').fill(user.email);
	await page.getByLabel('Password').fill(user.password);
	await page.getByLabel('Username').fill(user.username);
	await page.getByLabel('Display name').fill(user.displayName);
	await page.getByRole('button', { name: 'Create account' }).click();
	await page.getByRole('link', { name: `Your profile: ${user.displayName}` }).waitFor();
}

async function openChat(page: Page, name: string): Promise<void> {
	await page.getByRole('navigation', { name: 'Conversation list' }).getByRole('link', { name }).click();
	await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** Enter in `sender` → text painted in `receiver`, both measured on the shared wall clock. */
async function measureLatency(browser: Browser): Promise<number[]> {
	const a = await (await browser.newContext()).newPage();
	const b = await (await browser.newContext()).newPage();
	const alice = benchUser('alice');
	const bob = benchUser('bob');
	await signUp(a, alice);
	await signUp(b, bob);
	await a.getByRole('link', { name: /New conversation/ }).click();
	await a.getByRole('region', { name: 'Direct message' }).getByLabel('Username').fill(bob.username);
	await a.getByRole('button', { name: 'Start chat' }).click();
	await a.waitForURL(/\/c\//);
	const box = a.getByRole('textbox', { name: 'Message' });
	// The first message makes the conversation key; the receiver opens the chat after it exists.
	await box.fill('warm-up');
	await box.press('Enter');
	await a
		.getByTestId('message')
		.first()
		.and(a.locator('[data-status="sent"],[data-status="delivered"]'))
		.waitFor();
	await openChat(b, alice.displayName);
	await b.getByTestId('message-list').getByText('warm-up', { exact: true }).waitFor({ timeout: 30_000 });

	// The sender notes when Enter goes down; the receiver notes the first frame that shows the text.
	// Installed as init scripts too, so a reload (Vite re-optimising dependencies) keeps them.
	const installSender = () => {
		const w = window as unknown as { enterAt: number };
		document.addEventListener(
			'keydown',
			(event) => {
				if (event.key === 'Enter') w.enterAt = performance.timeOrigin + performance.now();
			},
			true
		);
	};
	const installReceiver = () => {
		const w = window as unknown as { painted: Record<string, number> };
		w.painted = {};
		const seen = () => {
			for (const node of document.querySelectorAll('[data-testid="message-text"]')) {
				const text = node.textContent ?? '';
				if (text.startsWith('bench ') && !(text in w.painted)) {
					w.painted[text] = -1;
					requestAnimationFrame(() => {
						w.painted[text] = performance.timeOrigin + performance.now();
					});
				}
			}
		};
		const observe = () =>
			new MutationObserver(seen).observe(document.body, {
				childList: true,
				subtree: true,
				characterData: true
			});
		if (document.body) observe();
		else addEventListener('DOMContentLoaded', observe);
	};
	await a.context().addInitScript(installSender);
	await b.context().addInitScript(installReceiver);
	await a.evaluate(installSender);
	await b.evaluate(installReceiver);

	const samples: number[] = [];
	for (let i = 1; i <= MESSAGES; i++) {
		const text = `bench ${i}`;
		await box.fill(text);
		await box.press('Enter');
		const painted = (
			await b.waitForFunction(
				(t) => {
					const value = (window as unknown as { painted: Record<string, number> }).painted[t];
					return value > 0 ? value : null;
				},
				text,
				{ polling: 'raf', timeout: 15_000 }
			)
		).jsonValue() as Promise<number>;
		const enterAt = await a.evaluate(() => (window as unknown as { enterAt: number }).enterAt);
		samples.push((await painted) - enterAt);
	}
	await a.context().close();
	await b.context().close();
	return samples;
}

/** Seeds HISTORY messages from a Node-side user into a direct chat with a browser user, then opens it. */
async function measureLargeConversation(
	browser: Browser
): Promise<{ seedMs: number; clientOpenMs: number; loadOpenMs: number }> {
	const page = await (await browser.newContext()).newPage();
	const reader = benchUser('reader');
	await signUp(page, reader); // the browser makes and publishes the reader's identity

	const seeder = benchUser('seeder');
	const supabase = createClient(API, DEFAULT_ANON_KEY, { auth: { persistSession: false } });
	const signUpResult = await supabase.auth.signUp({
		email: seeder.email,
		password: seeder.password,
		options: { data: { username: seeder.username, display_name: 'Seeder' } }
	});
	if (signUpResult.error || !signUpResult.data.user)
		throw signUpResult.error ?? new Error('seeder sign-up failed');
	const seederId = signUpResult.data.user.id;
	const identity = generateIdentity();
	const check = <T>(result: { data: T; error: unknown }): NonNullable<T> => {
		if (result.error || result.data == null) throw result.error ?? new Error('empty answer');
		return result.data;
	};
	const published = await supabase
		.from('profiles')
		.update({ public_key: identity.publicKey })
		.eq('id', seederId);
	if (published.error) throw published.error;
	// The reader's browser publishes its public key shortly after sign-up.
	let readerProfile: { id: string; public_key: string | null } = { id: '', public_key: null };
	for (let tries = 0; !readerProfile.public_key; tries++) {
		if (tries === 100) throw new Error('the reader never published a public key');
		if (tries) await new Promise((r) => setTimeout(r, 100));
		readerProfile = check(
			await supabase
				.rpc('find_profile', { username: reader.username })
				.single<{ id: string; public_key: string | null }>()
		);
	}
	const readerPublicKey = readerProfile.public_key;
	const conversation = check(
		await supabase
			.rpc('create_direct_conversation', { other_user_id: readerProfile.id })
			.single<{ id: string; key_epoch: number }>()
	);
	const key = newConversationKey();
	const publishedKeys = await supabase.rpc('publish_conversation_keys', {
		conversation_id: conversation.id,
		epoch: conversation.key_epoch,
		keys: [
			{ user_id: seederId, ...wrapKey(key, identity.publicKey, identity.secretKey) },
			{ user_id: readerProfile.id, ...wrapKey(key, readerPublicKey, identity.secretKey) }
		]
	});
	if (publishedKeys.error) throw publishedKeys.error;

	// Through send_message as the seeder (so every rule and trigger runs), 1,000 per statement.
	const seedStart = performance.now();
	const db = new pg.Client(DB);
	await db.connect();
	try {
		for (let from = 1; from <= HISTORY; from += 1000) {
			const contents: string[] = [];
			const encryptions: string[] = [];
			const clientIds: string[] = [];
			for (let i = from; i < Math.min(from + 1000, HISTORY + 1); i++) {
				const sealed = sealText(key, `seed ${i}`);
				contents.push(sealed.ciphertext);
				encryptions.push(JSON.stringify({ epoch: conversation.key_epoch, nonce: sealed.nonce }));
				clientIds.push(randomUUID());
			}
			await db.query('begin');
			await db.query(`select set_config('role', 'authenticated', true)`);
			await db.query(`select set_config('request.jwt.claims', $1, true)`, [
				JSON.stringify({ sub: seederId, role: 'authenticated' })
			]);
			await db.query(
				`select public.send_message($1, c, 'text', id, null, null, e)
				 from unnest($2::text[], $3::jsonb[], $4::uuid[]) with ordinality as u(c, e, id, n) order by n`,
				[conversation.id, contents, encryptions, clientIds]
			);
			await db.query('commit');
		}
	} finally {
		await db.end();
	}
	const seedMs = performance.now() - seedStart;

	const newest = `seed ${HISTORY}`;
	const untilNewestPainted = (start: number) =>
		page.waitForFunction(
			({ text, start }) => {
				const nodes = document.querySelectorAll('[data-testid="message-text"]');
				const last = nodes[nodes.length - 1];
				if (last?.textContent !== text) return null;
				return new Promise<number>((resolve) =>
					requestAnimationFrame(() => resolve(performance.timeOrigin + performance.now() - start))
				);
			},
			{ text: newest, start },
			{ polling: 'raf', timeout: 60_000 }
		);

	// Client-side open: from the click in the conversation list.
	await page.goto(`${APP_UNDER_TEST}/`);
	const link = page
		.getByRole('navigation', { name: 'Conversation list' })
		.getByRole('link', { name: 'Seeder' });
	await link.waitFor();
	const clickAt = await link.evaluate((element) => {
		const at = performance.timeOrigin + performance.now();
		(element as HTMLElement).click();
		return at;
	});
	const clientOpenMs = (await (await untilNewestPainted(clickAt)).jsonValue()) as number;

	// Full load of the conversation URL (new document, keys fetched again).
	const url = page.url();
	await page.goto('about:blank');
	const navigationStart = Date.now();
	await page.goto(url, { waitUntil: 'commit' });
	const loadOpenMs = (await (await untilNewestPainted(navigationStart)).jsonValue()) as number;
	await page.context().close();
	return { seedMs, clientOpenMs, loadOpenMs };
}

/** Gzip bytes of every script the page loads, as the production server sends them. */
async function firstPageJs(
	browser: Browser,
	path: string,
	signedIn: boolean
): Promise<{ gzip: number; files: number }> {
	const context = await browser.newContext();
	const page = await context.newPage();
	if (signedIn) {
		await signUp(page, benchUser('bundle'));
	}
	const bodies: Promise<Buffer>[] = [];
	page.on('response', (response) => {
		const type = response.headers()['content-type'] ?? '';
		if (response.url().startsWith(`http://127.0.0.1:${PROD_PORT}`) && type.includes('javascript')) {
			bodies.push(response.body());
		}
	});
	await page.goto(`http://127.0.0.1:${PROD_PORT}${path}`, { waitUntil: 'networkidle' });
	const buffers = await Promise.all(bodies);
	await context.close();
	return {
		gzip: buffers.reduce((sum, b) => sum + gzipSync(b, { level: 9 }).length, 0),
		files: buffers.length
	};
}

async function main() {
	console.log('building for production (vite build)…');
	const build = spawnSync(join(ROOT, 'node_modules/.bin/vite'), ['build'], {
		cwd: ROOT,
		// Served over plain http below, so the build must know its origin (CSRF, cookies).
		env: { ...env, ORIGIN: `http://127.0.0.1:${PROD_PORT}` },
		stdio: 'ignore'
	});
	if (build.status !== 0) throw new Error('vite build failed');

	console.log('starting node scripts/dev.ts --fresh…');
	startProcess(process.execPath, ['scripts/dev.ts', '--fresh']);
	await waitFor(APP, 180_000);
	await waitFor(`${API}/auth/v1/health`, 60_000, { headers: { apikey: DEFAULT_ANON_KEY } });
	startProcess(process.execPath, ['build/index.js'], {
		PORT: String(PROD_PORT),
		HOST: '127.0.0.1'
	});
	await waitFor(`http://127.0.0.1:${PROD_PORT}/`, 30_000);

	const browser = await chromium.launch({
		executablePath: CHROMIUM,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']
	});
	try {
		const landing = await firstPageJs(browser, '/', false);
		report('first page JS, landing (gzip KB) [target < 150]', {
			kb: landing.gzip / 1024,
			files: landing.files
		});
		const home = await firstPageJs(browser, '/', true);
		report('first page JS, signed-in home (gzip KB) [target < 150]', {
			kb: home.gzip / 1024,
			files: home.files
		});

		const samples = await measureLatency(browser);
		report(
			`Enter → painted in other browser, ${samples.length} msgs (ms, ${process.env.BENCH_APP === 'dev' ? 'dev server' : 'production build'})`,
			{
				p50: percentile(samples, 50),
				p95: percentile(samples, 95),
				max: Math.max(...samples),
				'target p50': '< 50'
			}
		);

		const large = await measureLargeConversation(browser);
		report(`open conversation of ${HISTORY} messages (ms) [target < 300]`, {
			'click→newest painted': large.clientOpenMs,
			'page load→newest painted': large.loadOpenMs,
			'seed time': large.seedMs
		});
	} finally {
		await browser.close();
		await stopAll();
	}
}

try {
	await main();
} catch (error) {
	console.error(error);
	await stopAll();
	process.exit(1);
}
