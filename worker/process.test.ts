/**
 * The worker as the separate process `npm run worker` runs: killed mid-job it loses and duplicates
 * nothing; SIGTERM stops it gracefully; `status`, `health` and `redrive` work from the command line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createScene, QUEUE, testConfig, testEnv, type Scene } from './testing/harness.ts';
import { sendMessage } from './testing/chat.ts';
import { getStatus } from './status.ts';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'worker/cli.ts');

interface Child {
	process: ChildProcess;
	logs: Record<string, unknown>[];
	exited: Promise<{ code: number | null; signal: string | null }>;
	waitForLog(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

function spawnWorker(env: Record<string, string>): Child {
	const child = spawn(process.execPath, [cli, 'run'], { cwd: root, env: { ...process.env, ...env } });
	const logs: Record<string, unknown>[] = [];
	let buffer = '';
	const listeners = new Set<() => void>();
	child.stdout!.on('data', (chunk: Buffer) => {
		buffer += chunk.toString();
		let newline;
		while ((newline = buffer.indexOf('\n')) >= 0) {
			const line = buffer.slice(0, newline);
			buffer = buffer.slice(newline + 1);
			logs.push(JSON.parse(line)); // every stdout line must be one JSON event
			for (const listener of listeners) listener();
		}
	});
	const stderr: string[] = [];
	child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
	const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
		child.once('exit', (code, signal) => resolve({ code, signal }))
	);
	return {
		process: child,
		logs,
		exited,
		waitForLog(event, timeoutMs = 15_000) {
			return new Promise((resolve, reject) => {
				const check = () => {
					const found = logs.find((l) => l.event === event);
					if (!found) return;
					listeners.delete(check);
					clearTimeout(timer);
					resolve(found);
				};
				const timer = setTimeout(() => {
					listeners.delete(check);
					reject(new Error(`no "${event}" log; stderr: ${stderr.join('')}`));
				}, timeoutMs);
				listeners.add(check);
				check();
			});
		}
	};
}

let scene: Scene | undefined;
const children: Child[] = [];
afterEach(async () => {
	for (const child of children.splice(0)) {
		if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
		await child.exited;
	}
	await scene?.dispose();
	scene = undefined;
});

describe('worker process', () => {
	it('killed while the push service holds the request, it delivers exactly once after a restart', async () => {
		scene = await createScene();
		const { pool, service, alice, conversation, browser } = scene;
		const env = testEnv(testConfig(scene.url, { graceMs: 200, expireSeconds: 2, pushTimeoutMs: 5000 }));
		service.script(browser.id, { hold: true });

		const first = spawnWorker(env);
		children.push(first);
		await first.waitForLog('worker.started');
		service.expectedKey = (await pool.query('select public_key from delivery.vapid_keys')).rows[0].public_key;
		const held = new Promise((resolve) => service.once('held', resolve));
		await sendMessage(pool, alice, conversation, 'x');
		await held;
		first.process.kill('SIGKILL');
		expect((await first.exited).signal).toBe('SIGKILL');
		await service.waitFor(() => service.attemptsFor(browser.id).length === 1, 5000, 'the aborted attempt');
		expect(service.attempts[0].outcome).toBe('aborted');
		expect((await getStatus(pool)).queues[QUEUE].active).toBe(1);

		const second = spawnWorker(env);
		children.push(second);
		await second.waitForLog('worker.started');
		await service.waitFor(() => service.deliveries.length === 1, 20_000, 'the push after restart');
		await scene.idle();
		await new Promise((r) => setTimeout(r, 300));
		expect(service.errors).toEqual([]);
		expect(service.attemptsFor(browser.id).map((a) => a.outcome)).toEqual(['aborted', '201']);
		expect(service.deliveries).toHaveLength(1);

		// Ctrl-C under `npm run dev`: SIGINT from the terminal and SIGTERM from dev.ts at once make
		// one graceful stop with exit code 0, not a forced one.
		second.process.kill('SIGINT');
		second.process.kill('SIGTERM');
		expect((await second.exited).code).toBe(0);
		expect(second.logs.map((l) => l.event)).toContain('worker.stopped');
		expect(second.logs.map((l) => l.event)).not.toContain('worker.forced_exit');
		expect(second.logs.every((l) => typeof l.time === 'string' && typeof l.level === 'string')).toBe(true);
	});

	it('status, health and redrive from the command line', async () => {
		scene = await createScene();
		const { pool, alice, conversation } = scene;
		const env = { ...process.env, ...testEnv(testConfig(scene.url)) };
		await sendMessage(pool, alice, conversation, 'x');
		const run = (...args: string[]) =>
			spawnSync(process.execPath, [cli, ...args], { cwd: root, env, encoding: 'utf8' });

		const health = run('health');
		expect(health.status).toBe(0);
		const status = run('status', '--json');
		expect(status.status).toBe(0);
		expect(JSON.parse(status.stdout).outbox.pending).toBe(1);
		// The queues do not exist before the worker first ran; redrive moves nothing.
		const redriven = run('redrive');
		expect(redriven.stdout).toContain('redrove 0');

		const broken = spawnSync(process.execPath, [cli, 'health'], {
			cwd: root,
			env: { ...env, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' },
			encoding: 'utf8'
		});
		expect(broken.status).toBe(1);
	});

	it('serves /health while running', async () => {
		scene = await createScene();
		const worker = await scene.start();
		expect(worker.health().ok).toBe(true);
		await worker.stop();
		expect(worker.health().ok).toBe(false);

		const child = spawnWorker({ ...testEnv(testConfig(scene.url)), PARLEY_WORKER_HEALTH_PORT: '0' });
		children.push(child);
		const started = await child.waitForLog('worker.started');
		const response = await fetch(`http://127.0.0.1:${started.health_port}/health`);
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({ ok: true, status: 'ok' });
	});
});
