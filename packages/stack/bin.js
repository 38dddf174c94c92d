#!/usr/bin/env node
/**
 * The `parley-stack` command. Plain JavaScript, so that it runs on any Node and can say which
 * Node it needs, and so that it can run the package's TypeScript from wherever npm put it: Node
 * strips types natively, but not from files under `node_modules` (a tarball or registry install,
 * as `npx` makes), so there a load hook strips them with Node's own `stripTypeScriptTypes`. A
 * folder install (`npx --package ./path`) links to the sources, which Node strips itself.
 */
import module from 'node:module';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
	console.error(
		`error: parley-stack needs Node 22.18 or newer (24 recommended); this is Node ${process.versions.node}.`
	);
	process.exit(1);
}

// Node warns once that stripTypeScriptTypes is experimental: a note for library authors that
// would only puzzle someone starting a stack, so it is taken here, unseen.
const emitWarning = process.emitWarning;
process.emitWarning = () => {};
module.stripTypeScriptTypes('');
process.emitWarning = emitWarning;

module.registerHooks({
	load(url, context, nextLoad) {
		if (!url.startsWith('file:') || !url.endsWith('.ts') || !url.includes('/node_modules/'))
			return nextLoad(url, context);
		const loaded = nextLoad(url, { ...context, format: 'module' });
		const source = module.stripTypeScriptTypes(String(loaded.source));
		return { format: 'module', source, shortCircuit: true };
	}
});

await import('./cli.ts');
