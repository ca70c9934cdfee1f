/**
 * Settings and first run (issue 15, problem 7), on the real stack: a fresh console explains the two
 * ways in (a signaling server, or pairing with no server) in plain words, asks for STUN and TURN
 * servers as fields (no JSON), and says as text that the web console keeps credentials
 * unencrypted; signing in there connects; the settings screen, reachable at any time, shows and
 * changes the signaling server, the token, the ICE servers, the theme, and lists the keyboard
 * shortcuts. Saves docs/screenshots/console-settings.png and console-first-run.png (1400×900).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ConsolePage } from '../../harness/console-page.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';
import { SHORTCUTS } from '../../renderer/src/ui/keybindings.js';

let stack: Stack;
let ui: ConsolePage;

before(async () => {
  stack = await startStack({ name: 'console-settings' });
  await stack.page.setViewportSize({ width: 1400, height: 900 });
  ui = new ConsolePage(stack.page);
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());
const testid = (id: string) => ui.page.locator(`[data-testid="${id}"]`);
const waitForConsole = () => ui.page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 30_000 });

/** The rows of an ICE server list as [urls, user name, password]. */
const iceRows = (list: string) =>
  ui.page
    .locator(`[data-testid="${list}"] .ice-row`)
    .evaluateAll((rows) =>
      rows.map((row) => ['urls', 'username', 'credential'].map((name) => row.querySelector<HTMLInputElement>(`[name="${name}"]`)!.value)),
    );

test('the first run explains both ways in, asks for ICE servers as fields, warns in words, and signs in', async () => {
  await ui.page.goto(`${stack.baseUrl}/index.html?test=1`);
  const first = testid('config-form');
  await first.waitFor();
  const text = (await first.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /two ways in/);
  assert.match(text, /Sign in to a signaling server/);
  assert.match(text, /Pair with an agent on your network/);
  assert.match(text, /No server and no internet needed/);
  assert.doesNotMatch(text, /JSON/, 'no JSON to write');
  assert.doesNotMatch(text, /`/);
  const warning = testid('first-run-credential-status');
  assert.equal(await warning.isVisible(), true, 'the warning is on the page, not in a tooltip');
  assert.match((await warning.innerText()) ?? '', /unencrypted/);
  await ui.screenshot('console-first-run');

  await testid('first-run-signal').fill(stack.signaling.url);
  await testid('first-run-token').fill(stack.consoleToken);
  await testid('first-run-ice-add').click();
  await ui.page.locator('[data-testid="first-run-ice"] [name="urls"]').fill('stun:127.0.0.1:3478');
  await testid('first-run-connect').click();
  await waitForConsole();
  await waitFor(
    async () => (await testid('signaling-state').getAttribute('data-state')) === 'connected',
    'the console to reach the signaling server',
  );
  await ui.connectAgent(stack.agent.agentId, 45_000);
  // The web console's warning stays in words in the toolbar.
  assert.equal(await testid('credential-warning').isVisible(), true);
  assert.match((await testid('credential-warning').innerText()) ?? '', /unencrypted/);
});

test('the settings screen shows and changes the connection (ICE/TURN as fields), the theme, and lists the shortcuts', async () => {
  const settings = await ui.openSettings();
  assert.equal(await settings.locator('[data-testid="settings-signal"]').inputValue(), stack.signaling.url);
  assert.equal(await settings.locator('[data-testid="settings-token"]').inputValue(), stack.consoleToken);
  assert.deepEqual(await iceRows('settings-ice'), [['stun:127.0.0.1:3478', '', '']]);
  const shortcuts = (await settings.locator('[data-testid="settings-shortcuts"]').innerText()).replace(/\s+/g, ' ');
  for (const keys of ['Ctrl+Tab', 'Ctrl+Shift+W', 'Ctrl+Shift+E', 'Ctrl+Shift+F', 'Ctrl+Shift+C', 'Ctrl+,'])
    assert.ok(shortcuts.includes(keys), `${keys} in the shortcuts list: ${shortcuts}`);
  // Read-only, and generated from the console's own key bindings: every one of them, nothing else.
  const rows = await settings
    .locator('[data-testid="settings-shortcuts"] tr')
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
  assert.deepEqual(
    rows,
    SHORTCUTS.map(([keys, what]) => [keys, what]),
  );
  assert.equal(
    await settings.locator('[data-testid="settings-shortcuts"] :is(input, select, textarea, button)').count(),
    0,
    'a list, nothing to edit',
  );
  const does = (keys: string) => rows.find(([combo]) => combo === keys)?.[1] ?? `no row for ${keys}`;
  assert.match(does('Ctrl+Shift+B'), /^broadcast input/);
  assert.match(does('Alt+Shift+= / Alt+Shift+-'), /^split: a new session beside \/ below/);
  assert.match(does('Alt+← → ↑ ↓'), /split panes/);
  assert.match((await settings.locator('[data-testid="settings-credential-status"]').innerText()) ?? '', /unencrypted/);
  await ui.screenshot('console-settings');

  // The theme applies at once.
  await settings.locator('[data-testid="settings-theme"]').selectOption('light');
  await waitFor(async () => (await ui.page.evaluate(() => document.documentElement.dataset['theme'])) === 'light', 'the light theme');
  await settings.locator('[data-testid="settings-theme"]').selectOption('dark');

  // A TURN server without its password is refused in words; with it, saved, and the console reconnects.
  await settings.locator('.ice-remove').click();
  await settings.locator('[data-testid="settings-ice-add"]').click();
  await settings.locator('[data-testid="settings-ice"] [name="urls"]').fill('turn:127.0.0.1:3478?transport=udp');
  await settings.locator('[data-testid="settings-save-connection"]').click();
  assert.match((await settings.locator('[data-testid="settings-problem"]').innerText()) ?? '', /needs a user name and a password/);
  await settings.locator('[data-testid="settings-ice"] [name="username"]').fill('operator');
  await settings.locator('[data-testid="settings-ice"] [name="credential"]').fill('s3cret');
  await Promise.all([ui.page.waitForEvent('load'), settings.locator('[data-testid="settings-save-connection"]').click()]);
  await waitForConsole();
  await waitFor(async () => (await testid('signaling-state').getAttribute('data-state')) === 'connected', 'the console to reconnect');
  await ui.openSettings();
  assert.deepEqual(await iceRows('settings-ice'), [['turn:127.0.0.1:3478?transport=udp', 'operator', 's3cret']]);
  assert.equal(await testid('settings-signal').inputValue(), stack.signaling.url);
  await ui.closeSettings();
});

test('"Continue without a server" on the first run starts a console for paired agents over the LAN', async () => {
  const context = await stack.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/index.html?test=1`);
    await page.locator('[data-testid="config-form"]').waitFor();
    await page.locator('[data-testid="config-offline"]').click();
    await page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 30_000 });
    assert.match((await page.locator('[data-testid="signaling-state"]').innerText()) ?? '', /No signaling server/);
    assert.equal(await page.locator('[data-testid="pair-agent"]').isVisible(), true);
  } finally {
    await context.close();
  }
});
