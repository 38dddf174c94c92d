import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	// SvelteKit 3 takes its configuration here; `svelte.config.js` is no longer read.
	plugins: [
		sveltekit({
			adapter: adapter(),
			compilerOptions: { runes: true },
			// adapter-node no longer reads ORIGIN at run time, and without it takes requests for https:
			// a build served over plain http (or behind a proxy that hides the host) sets it here.
			paths: { origin: process.env.ORIGIN || undefined }
		})
	],
	server: { host: '127.0.0.1', port: Number(process.env.PARLEY_APP_PORT || 5173), strictPort: true },
	test: {
		include: [
			'src/**/*.test.ts',
			'packages/stack/**/*.test.ts',
			'supabase/tests/**/*.test.ts',
			'worker/**/*.test.ts',
			'tests/integration/**/*.test.ts'
		],
		globalSetup: ['packages/stack/testing/global-setup.ts'],
		testTimeout: 30_000,
		hookTimeout: 60_000,
		pool: 'forks'
	}
});
