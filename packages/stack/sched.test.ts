import { afterEach, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
	SCHED_BATCH,
	batchSchedulingWanted,
	chrtAvailable,
	childrenOf,
	schedulingPolicyOf,
	useBatchScheduling
} from './sched.ts';
import { loadConfig } from './config.ts';

const SCHED_OTHER = 0;

const started: ChildProcess[] = [];
afterEach(() => {
	for (const child of started.splice(0)) child.kill();
});

/** A process under the default policy, whatever policy this test runner has. */
function sleeper(): number {
	const child = spawn('chrt', ['--other', '0', 'sleep', '30'], { stdio: 'ignore' });
	started.push(child);
	return child.pid!;
}

describe.runIf(chrtAvailable())('batch scheduling', () => {
	test('switches a running process to SCHED_BATCH', () => {
		const pid = sleeper();
		expect(schedulingPolicyOf(pid)).toBe(SCHED_OTHER);
		expect(useBatchScheduling([pid])).toBe(true);
		expect(schedulingPolicyOf(pid)).toBe(SCHED_BATCH);
	});

	test('is wanted on Linux unless PARLEY_SCHED_BATCH=0', () => {
		expect(batchSchedulingWanted(loadConfig(import.meta.dirname, {}))).toBe(true);
		expect(batchSchedulingWanted(loadConfig(import.meta.dirname, { PARLEY_SCHED_BATCH: '0' }))).toBe(false);
	});

	test('reports a process it could not switch, and still switches the others', () => {
		const pid = sleeper();
		// Above the largest pid Linux hands out (2^22), so never a live process.
		expect(useBatchScheduling([2 ** 22 + 1, pid])).toBe(false);
		expect(schedulingPolicyOf(pid)).toBe(SCHED_BATCH);
	});
});

describe.runIf(process.platform === 'linux')('process listing', () => {
	test('lists the children of a process', async () => {
		const shell = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { stdio: 'ignore' });
		started.push(shell);
		let children: number[] = [];
		for (let i = 0; i < 100 && children.length < 2; i++) {
			await new Promise((r) => setTimeout(r, 20));
			children = childrenOf(shell.pid!);
		}
		expect(children).toHaveLength(2);
		for (const child of children) {
			expect(readFileSync(`/proc/${child}/comm`, 'utf8').trim()).toBe('sleep');
			process.kill(child);
		}
	});
});
