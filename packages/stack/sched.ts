/**
 * Linux scheduling policy of the stack's server processes.
 *
 * PostgreSQL and the gateway hand work to each other once or twice per request. Under the
 * default policy a process that wakes another is often preempted by it on the spot, so every
 * request costs several context switches, which are dear on virtual machines. Under
 * `SCHED_BATCH` a woken process waits for the next scheduling tick or for a free CPU instead,
 * and each side gets through more of its queue per turn. Priorities (nice values)
 * are unchanged. The policy is inherited by the processes a process starts later, so setting it
 * on the postmaster covers every backend. `PARLEY_SCHED_BATCH=0` (config `sched.batch`) keeps the
 * default policy.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StackConfig } from './config.ts';

/** The policy number `/proc/<pid>/stat` shows for `SCHED_BATCH`. */
export const SCHED_BATCH = 3;

/** Whether the stack sets `SCHED_BATCH`: on Linux, unless the config's `sched.batch` is off. */
export function batchSchedulingWanted(config: Pick<StackConfig, 'sched'>): boolean {
	return process.platform === 'linux' && config.sched.batch;
}

/** Whether util-linux's `chrt` can be run here (Linux only). */
export function chrtAvailable(): boolean {
	if (process.platform !== 'linux') return false;
	try {
		execFileSync('chrt', ['--version'], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
}

/**
 * Puts every thread of each process in `pids` under `SCHED_BATCH` with util-linux's `chrt`
 * (Node has no binding for `sched_setscheduler`). Returns whether all of them were switched;
 * when `chrt` is missing or refuses, the processes keep their policy and only speed differs.
 * Callers ask batchSchedulingWanted first.
 */
export function useBatchScheduling(pids: number[]): boolean {
	let all = true;
	for (const pid of pids) {
		try {
			execFileSync('chrt', ['--batch', '--all-tasks', '--pid', '0', String(pid)], { stdio: 'ignore' });
		} catch {
			all = false;
		}
	}
	return all;
}

/** The children of `pid`, from `/proc` (empty where the kernel does not list them). */
export function childrenOf(pid: number): number[] {
	const children: number[] = [];
	try {
		for (const task of readdirSync(`/proc/${pid}/task`)) {
			const listed = readFileSync(join(`/proc/${pid}/task`, task, 'children'), 'utf8');
			for (const child of listed.split(' ').filter(Boolean)) children.push(Number(child));
		}
	} catch {
		// not Linux, or the process is gone
	}
	return children;
}

/** The scheduling policy of `pid` (field 41 of `/proc/<pid>/stat`), or undefined. */
export function schedulingPolicyOf(pid: number): number | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		// The command name (field 2) may hold spaces; count the fields after its closing paren.
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return Number(fields[41 - 3]);
	} catch {
		return undefined;
	}
}
