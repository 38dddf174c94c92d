import { defineConfig } from '@playwright/test';
import { API_PORT, APP_PORT, APP_URL, DB_PORT } from './tests/e2e/ports.ts';

/** Debian's Chromium: Playwright cannot download its own browser on this network. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
	testDir: 'tests/e2e',
	outputDir: 'test-results',
	fullyParallel: false,
	workers: 1,
	timeout: 60_000,
	expect: { timeout: 10_000 },
	reporter: [['list']],
	use: {
		baseURL: APP_URL,
		screenshot: 'only-on-failure',
		trace: 'off',
		launchOptions: {
			executablePath: CHROMIUM,
			args: [
				'--headless',
				'--no-sandbox',
				'--disable-gpu',
				'--disable-quic',
				'--no-first-run',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync',
				// A synthetic microphone, granted without a prompt, for voice messages.
				'--use-fake-device-for-media-stream',
				'--use-fake-ui-for-media-stream'
			]
		}
	},
	webServer: {
		// The whole app on the embedded stack, as `npm run dev` starts it, on a fresh database.
		command: 'node scripts/dev.ts --fresh',
		env: {
			PARLEY_DATA_DIR: '.stack/e2e-data',
			PARLEY_AUTH_RATE_LIMIT_SIGN_IN: '10000',
			PARLEY_APP_PORT: String(APP_PORT),
			PARLEY_API_PORT: String(API_PORT),
			PARLEY_DB_PORT: String(DB_PORT)
		},
		url: APP_URL,
		reuseExistingServer: !process.env.CI,
		timeout: 180_000,
		stdout: 'pipe',
		stderr: 'pipe'
	}
});
