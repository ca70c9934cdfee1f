/**
 * Launches the real Electron console with Playwright's Electron support: the preload API is there,
 * Node is not, and the page is the console. Runs where the Electron binary is installed; reports
 * itself skipped, with the reason, where it is not (npm cannot download it on these machines).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { _electron } from 'playwright-core';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function electronBinary(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch (error) {
    console.info(`[launch test] require('electron') failed: ${String(error)}`);
    return undefined;
  }
}

it('the Electron console starts with the preload API, no Node in the page, and the console UI', async (t) => {
  const executablePath = electronBinary();
  if (!executablePath) {
    t.skip('Electron binary not installed (npm could not download it on this machine)');
    return;
  }
  const built = spawnSync(process.execPath, ['electron/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  assert.equal(built.status, 0, 'electron/build.mjs');
  const app = await _electron.launch({
    executablePath,
    args: ['--no-sandbox', 'electron/dist/main.cjs', '--signal=http://127.0.0.1:9', '--token=launch-test'],
    cwd: repoRoot,
  });
  try {
    const page = await app.firstWindow();
    await page.waitForSelector('[data-testid="signaling-state"]');
    const seen = await page.evaluate(() => ({
      kind: window.tether?.kind,
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
    }));
    assert.deepEqual(seen, { kind: 'electron', require: 'undefined', process: 'undefined' });
    const settings = await page.evaluate(() => window.tether?.settings.get());
    assert.equal(settings?.theme, 'dark');
  } finally {
    await app.close();
  }
});
