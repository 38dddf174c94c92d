import { defineConfig } from 'vitest/config';

// The stack's own suite, run from this folder (`npm test -w @parley/stack`); the app's root config
// runs the same files beside the app's.
export default defineConfig({
	test: {
		include: ['**/*.test.ts'],
		exclude: ['**/node_modules/**'],
		globalSetup: ['testing/global-setup.ts'],
		testTimeout: 30_000,
		hookTimeout: 60_000,
		pool: 'forks'
	}
});
