/**
 * The end-to-end suite. There is no `webServer`: every test starts its own server through the
 * `server` fixture, so a test can kill and restart it without disturbing the others.
 */
import { defineConfig } from '@playwright/test'

// One seed for the whole run, shared with the workers through the environment; every test derives
// its own generator from it and its title, so one test can be replayed with E2E_SEED=<seed>.
if (!process.env.E2E_SEED) {
  process.env.E2E_SEED = String(Date.now() % 2_147_483_647)
}
if (!process.env.TEST_WORKER_INDEX) process.stdout.write(`e2e seed: E2E_SEED=${process.env.E2E_SEED}\n`)

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  // Each test owns its server, data folder and browser contexts, so tests may run in any order.
  fullyParallel: true,
  // Two cores: each test runs a server and two or three browser contexts.
  workers: 2,
  // A flaky test is a bug to find, not to retry.
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  use: {
    browserName: 'chromium',
    headless: true,
    // Traces cost CPU on a 2-core machine; E2E_TRACE=1 keeps one for each failed test.
    trace: process.env.E2E_TRACE ? 'retain-on-failure' : 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
})
