/**
 * The agent as a host gets it: `npm pack` of the agent, `npm install -g` of that tarball into an
 * empty prefix (its dependencies from the npm registry, nothing from this repository), and the
 * installed `tether-agent` serving a terminal session to the console.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureAgentBuilt, startAgent, type AgentProcess } from '../support/agent-process.js';
import { startStack, type Stack } from '../support/stack.js';

const run = promisify(execFile);
const agentDir = fileURLToPath(new URL('../../agent/', import.meta.url));

let stack: Stack;
let installed: AgentProcess | undefined;
let work: string;
let prefix: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tether-install-'));
  prefix = join(work, 'prefix');
  ensureAgentBuilt();
  stack = await startStack({ name: 'install' });
});

after(async () => {
  await installed?.stop();
  await stack?.close();
  rmSync(work, { recursive: true, force: true });
});

const test = (name: string, body: () => Promise<void>) => it(name, { timeout: 600_000 }, () => stack.guarded(name, body)());

test('the packed agent installs with npm install -g into an empty prefix and serves a session', async () => {
  const { stdout: packed } = await run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: agentDir });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  const tarball = join(work, filename);
  assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);

  // An empty prefix, outside the repository: only the tarball and the registry can satisfy it.
  await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
    cwd: work,
    timeout: 540_000,
  });
  const installedDir = join(prefix, 'lib', 'node_modules', '@tether', 'agent');
  const manifest = JSON.parse(readFileSync(join(installedDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  assert.deepEqual(
    Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith('@tether/')),
    [],
    'the protocol is bundled, not a dependency a host would have to find',
  );
  const bin = join(prefix, 'bin', 'tether-agent');
  const { stdout: version } = await run(bin, ['--version'], { cwd: work });
  assert.match(version.trim(), /\d+\.\d+\.\d+/);

  const container = await stack.startContainer();
  installed = await startAgent({
    executable: bin,
    signalingUrl: stack.signaling.url,
    token: stack.agentToken,
    agentId: 'installed-agent',
    name: 'installed agent',
  });
  const ui = await stack.openConsole();
  const tabId = await ui.openTargetByClick('installed-agent', container.name);
  await ui.waitForPrompt(tabId);
  await ui.typeLine(tabId, 'echo served-by-""installed-agent');
  await ui.waitForLine(tabId, 'served-by-installed-agent');
  assert.equal((await ui.tab(tabId)).state, 'open');
});
