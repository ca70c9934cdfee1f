/**
 * A terminal tab end to end: real keyboard in Chromium, real signaling, real agent, real container.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, it } from 'node:test';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;

before(async () => {
  stack = await startStack({ name: 'terminal' });
  container = await stack.startContainer();
  ui = await stack.openConsole();
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

async function openShell(): Promise<string> {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name);
  await ui.waitForPrompt(tabId);
  return tabId;
}

test('typing echo hello shows hello on its own line', async () => {
  const tabId = await openShell();
  await ui.typeLine(tabId, 'echo hello');
  const screen = await ui.waitForLine(tabId, 'hello');
  assert.match(screen, /echo hello/, 'the typed command is echoed by the shell');
  const tab = await ui.tab(tabId);
  assert.ok(tab.sessionId, 'the agent named the session');
  assert.equal(tab.target, container.name);
});

test('what is typed with letters beyond ASCII runs as typed, in a container that sets no locale', async () => {
  // The test image sets no LANG: in the C locale bash took the bytes of "°" and "ü" for Meta keys
  // (editing commands), and ran another line than the one typed.
  const tabId = await openShell();
  await ui.typeLine(tabId, 'echo "Temperatur 80°C, Drücke ok" > /tmp/typed; echo done""-$((6*7))');
  await ui.waitForLine(tabId, 'done-42');
  const written = execFileSync('docker', ['exec', container.name, 'cat', '/tmp/typed'], { encoding: 'utf8' });
  assert.equal(written, 'Temperatur 80°C, Drücke ok\n');
  await ui.closeByClick(tabId);
});

test('stty size matches the terminal, before and after the page is resized', async () => {
  const tabId = await openShell();
  const before = await ui.size(tabId);
  await ui.typeLine(tabId, 'stty size');
  await ui.waitForLine(tabId, `${before.rows} ${before.cols}`);

  await stack.page.setViewportSize({ width: 900, height: 520 });
  const after = await waitFor(async () => {
    const size = await ui.size(tabId);
    return size.cols !== before.cols && size.rows !== before.rows ? size : undefined;
  }, 'xterm to fit the smaller page');
  await ui.typeLine(tabId, 'clear; stty size');
  await ui.waitForLine(tabId, `${after.rows} ${after.cols}`);
  await stack.page.setViewportSize({ width: 1200, height: 800 });
});

test('exit 3 reaches the console as exit code 3', async () => {
  const tabId = await openShell();
  await ui.typeLine(tabId, 'exit 3');
  const tab = await waitFor(async () => {
    const t = await ui.tab(tabId);
    return t.exitCode !== undefined ? t : undefined;
  }, 'the exit code');
  assert.equal(tab.exitCode, 3);
  assert.equal(tab.state, 'exited');
  await ui.waitForLine(tabId, '[process exited with code 3]');
});

test('closing a tab leaves no process of its session in the container', async () => {
  const tabId = await openShell();
  await ui.typeLine(tabId, 'sleep 1001 &');
  await ui.typeLine(tabId, 'sleep 1002');
  await waitFor(async () => {
    const rows = await container.processes();
    return rows.some((r) => r.includes('sleep 1001')) && rows.some((r) => r.includes('sleep 1002'));
  }, 'sleep 1001 and sleep 1002 to run in the container');

  await ui.closeByClick(tabId);
  assert.equal(
    (await ui.tabs()).some((t) => t.id === tabId),
    false,
    'the tab is gone from the strip',
  );
  let left: string[] = [];
  await waitFor(
    async () => {
      left = (await container.processes()).filter((r) => r.includes('sleep 1001') || r.includes('sleep 1002'));
      return left.length === 0;
    },
    'no sleep 1001 or sleep 1002 left in the container',
    30_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; still running: ${left.join(' | ')}`);
  });
});
