import { afterEach, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SCHED_BATCH, childrenOf, schedulingPolicyOf, useBatchScheduling } from './sched.ts';

const SCHED_OTHER = 0;
const started: ChildProcess[] = [];
afterEach(() => {
	for (const child of started.splice(0)) child.kill();
	delete process.env.PARLEY_SCHED_BATCH;
});

function sleeper(): number {
	const child = spawn('sleep', ['30'], { stdio: 'ignore' });
	started.push(child);
	return child.pid!;
}

describe('batch scheduling', () => {
	test('switches a running process to SCHED_BATCH', () => {
		const pid = sleeper();
		expect(schedulingPolicyOf(pid)).toBe(SCHED_OTHER);
		expect(useBatchScheduling([pid])).toBe(true);
		expect(schedulingPolicyOf(pid)).toBe(SCHED_BATCH);
	});

	test('PARLEY_SCHED_BATCH=0 leaves the policy alone', () => {
		process.env.PARLEY_SCHED_BATCH = '0';
		const pid = sleeper();
		expect(useBatchScheduling([pid])).toBe(false);
		expect(schedulingPolicyOf(pid)).toBe(SCHED_OTHER);
	});

	test('reports a process it could not switch, and still switches the others', () => {
		const pid = sleeper();
		expect(useBatchScheduling([2 ** 22 + 1, pid])).toBe(false);
		expect(schedulingPolicyOf(pid)).toBe(SCHED_BATCH);
	});

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
