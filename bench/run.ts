/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line) one after
 * another, each in its own Node process, and prints their figures. Benchmarks measure; they
 * never pass or fail on timing.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
	.filter((f) => f.endsWith('.bench.ts'))
	.filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
	.sort();

let failed = 0;
for (const file of files) {
	console.log(`\n=== ${file} ===`);
	const result = spawnSync(process.execPath, [join(dir, file)], { stdio: 'inherit' });
	if (result.status !== 0) {
		failed++;
		console.error(`${file} exited with ${result.status}`);
	}
}
process.exit(failed ? 1 : 0);
