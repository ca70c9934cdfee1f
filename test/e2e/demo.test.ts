/**
 * `npm run demo`'s own program (scripts/demo.ts, after the bootstrap), twice side by side on one
 * Docker engine, beside a container of someone else's labelled `tether.vplc=true`: each console
 * lists its own two containers and nothing else, each writes its agent's log while it runs, and
 * Ctrl-C (SIGINT) on one removes its containers and leaves the other's running.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium, newLoggedPage } from '../../harness/browser.js';
import { ConsolePage } from '../../harness/console-page.js';
import { docker, ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { waitFor } from '../../harness/wait.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

interface Demo {
  child: ChildProcess;
  output: () => string;
  runId: string;
  agentId: string;
  url: string;
  logDir: string;
}

const demos: Demo[] = [];
let browser: Browser | undefined;
let foreign: TestContainer;
const pageLog: string[] = [];

async function startDemo(): Promise<Demo> {
  // No display: the demo serves the console and prints its URL, as on a server.
  const env = { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' };
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'scripts/demo.ts'], {
    cwd: repo,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const demo = { child, output: () => text } as Demo;
  demos.push(demo);
  await waitFor(
    () => text.includes('demo: running;') || (child.exitCode !== null && assert.fail(`the demo exited: ${text}`)),
    'the demo to run',
    120_000,
  );
  demo.runId = /demo: run ([0-9a-f]+):/.exec(text)![1]!;
  demo.agentId = /demo: agent (\S+) running/.exec(text)![1]!;
  demo.url = /Tether console: (\S+)/.exec(text)![1]!;
  demo.logDir = join(repo, '.tether-demo', demo.runId);
  return demo;
}

async function stopDemo(demo: Demo): Promise<number | null> {
  if (demo.child.exitCode !== null) return demo.child.exitCode;
  demo.child.kill('SIGINT');
  const [code] = (await once(demo.child, 'exit')) as [number | null];
  return code;
}

/** The container names the console lists under the demo's agent, once it has connected. */
async function listed(demo: Demo): Promise<string[]> {
  const page = await newLoggedPage(browser!, pageLog);
  await page.goto(demo.url);
  const ui = new ConsolePage(page);
  await ui.connectAgent(demo.agentId);
  const targets = page.locator(`[data-testid="agent"][data-agent-id="${demo.agentId}"] [data-testid="target"]`);
  await waitFor(async () => (await targets.count()) >= 2, `the containers of ${demo.agentId}`);
  const names = await targets.evaluateAll((elements) => elements.map((e) => (e as HTMLElement).dataset.targetName ?? ''));
  const agents = await page
    .locator('[data-testid="agent"]')
    .evaluateAll((elements) => elements.map((e) => (e as HTMLElement).dataset.agentId ?? ''));
  assert.deepEqual(agents, [demo.agentId], 'the console lists its own demo agent only');
  await page.context().close();
  return names.sort();
}

const containersOf = async (runId: string) =>
  (await docker('ps', '-a', '--filter', `label=tether.demo=${runId}`, '--format', '{{.Names}}')).split('\n').filter(Boolean).sort();

before(async () => {
  await ensureDocker();
  foreign = await startContainer({ namePrefix: 'not-the-demos', labels: { 'tether.vplc': 'true' } });
  browser = await launchChromium();
});

after(async () => {
  for (const demo of demos) await stopDemo(demo);
  await browser?.close();
  await foreign?.remove();
  for (const demo of demos) if (demo.logDir) rmSync(demo.logDir, { recursive: true, force: true });
});

test('two demos side by side each list only their own containers; Ctrl-C on one removes its own and leaves the other', async () => {
  const [first, second] = [await startDemo(), await startDemo()];
  assert.notEqual(first.runId, second.runId);
  for (const demo of [first, second]) {
    const expected = [`tether-demo-${demo.runId}-packaging-plc`, `tether-demo-${demo.runId}-press-line-1`];
    assert.deepEqual(await containersOf(demo.runId), expected);
    assert.deepEqual(await listed(demo), expected, `demo ${demo.runId} lists its own containers, not the other demo's nor ${foreign.name}`);
    // the agent's log is written while it runs, not at exit
    assert.match(readFileSync(join(demo.logDir, 'agent.log'), 'utf8'), /"msg":"agent ready"/);
  }

  assert.equal(await stopDemo(first), 0, first.output());
  assert.match(first.output(), /demo: stopped/);
  assert.deepEqual(await containersOf(first.runId), [], 'Ctrl-C removed the first demo containers');
  assert.equal((await containersOf(second.runId)).length, 2, 'the second demo kept its own');
  assert.equal(second.child.exitCode, null, 'the second demo runs on');
  assert.deepEqual(await listed(second), [`tether-demo-${second.runId}-packaging-plc`, `tether-demo-${second.runId}-press-line-1`]);
  assert.equal(await stopDemo(second), 0, second.output());
  assert.deepEqual(await containersOf(second.runId), []);
  assert.ok((await docker('ps', '-q', '--filter', `name=${foreign.name}`)).length > 0, 'the foreign container was left alone');
});
