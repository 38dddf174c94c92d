/**
 * Test helpers that run the `parley-stack` command as a user does: a real process of the bin
 * (on this test run's Node), its output collected, started and awaited until it says it runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../bin.js');

export interface CliOptions {
	cwd: string;
	env?: NodeJS.ProcessEnv;
}

/** The environment without the caller's PARLEY_* settings, so a test decides them all. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
	const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
	return { ...env, ...extra };
}

export function exited(child: ChildProcess): Promise<number | null> {
	return child.exitCode !== null
		? Promise.resolve(child.exitCode)
		: new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Runs a command to its end. */
export async function runCli(
	args: string[],
	options: CliOptions
): Promise<{ code: number | null; stdout: string; stderr: string }> {
	const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env });
	let stdout = '';
	let stderr = '';
	child.stdout.on('data', (d) => (stdout += d));
	child.stderr.on('data', (d) => (stderr += d));
	const code = await exited(child);
	return { code, stdout, stderr };
}

/**
 * Starts `parley-stack start` in its own process group (so a test can send Ctrl-C to all of it,
 * as a terminal does); resolves once it reports it is running.
 */
export async function startCli(
	args: string[],
	options: CliOptions
): Promise<{ child: ChildProcess; output: () => string }> {
	const child = spawn(process.execPath, [BIN, 'start', ...args], {
		cwd: options.cwd,
		env: options.env,
		detached: true
	});
	let output = '';
	child.stdout!.on('data', (d) => (output += d));
	child.stderr!.on('data', (d) => (output += d));
	await new Promise<void>((resolve, reject) => {
		const timer = setInterval(() => {
			if (output.includes('is running')) {
				clearInterval(timer);
				resolve();
			}
		}, 50);
		child.once('exit', (code) => {
			clearInterval(timer);
			reject(new Error(`stack exited with ${code}: ${output}`));
		});
	});
	return { child, output: () => output };
}

/** Ctrl-C to the whole process group; resolves with the exit code. */
export async function stopCli(child: ChildProcess): Promise<number | null> {
	process.kill(-child.pid!, 'SIGINT');
	return exited(child);
}
