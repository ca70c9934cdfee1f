/**
 * The README's two commands on a fresh clone, with a plain environment (a system PATH, HOME, LANG:
 * no ELECTRON_SKIP_BINARY_DOWNLOAD, no node_modules, no build, nothing of this run's), as a
 * newcomer would type them:
 *
 * - `npm test`, with the test files narrowed to two (`npm test -- <files>`): the bootstrap is the
 *   whole of it (a supported Node.js when the machine's is older, system packages, the Docker
 *   engine, `npm ci`, typecheck, lint, build), and the files are a unit test and an end-to-end one
 *   (Docker, Chromium, the agent and signaling). All files would run this one again, without end;
 *   CI itself runs the whole `npm test` on a fresh clone.
 * - `npm run demo`, until it serves the console, then Ctrl-C: it removes its containers.
 *
 * The clone is of the committed HEAD: uncommitted changes are not in it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { docker } from '../../harness/docker.js';
import { waitFor } from '../../harness/wait.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
let clone: string;

/** What a login shell on a fresh Debian machine has, and nothing from this test run. */
const plainEnv: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: process.env.HOME ?? '/root',
  LANG: 'C.UTF-8',
};

before(async () => {
  clone = join(mkdtempSync(join(tmpdir(), 'tether-fresh-')), 'tether');
  await run('git', ['clone', '--quiet', repo, clone]);
});

after(() => {
  if (clone) rmSync(join(clone, '..'), { recursive: true, force: true });
});

function endGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH')
      console.error(`[fresh-clone] cannot end process group ${pgid}: ${String(error)}`);
  }
}

/** Runs `npm args` in the clone; its output, whatever the exit code. */
function npm(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn('npm', args, { cwd: clone, env: plainEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, output }));
}

test('on a fresh clone, npm test installs what it needs and passes, and npm run demo serves the console and cleans up on Ctrl-C', async () => {
  assert.equal(existsSync(join(clone, 'node_modules')), false);
  const tested = await npm(['test', '--', 'protocol/test/pairing.test.ts', 'test/e2e/terminal.test.ts']);
  assert.equal(tested.code, 0, tested.output.slice(-6000));
  assert.match(tested.output, /bootstrap: installing the npm dependencies \(npm ci\)/);
  assert.match(tested.output, /ℹ pass [1-9]\d*\nℹ fail 0\n/);
  assert.doesNotMatch(
    tested.output,
    /EBADENGINE|install-scripts|ENOTFOUND/,
    'no engine warning, no unreviewed install script, no download that fails',
  );

  // Again: nothing left to install.
  // its own process group, as a command in a terminal: Ctrl-C goes to the whole group
  const demo = spawn('npm', ['run', 'demo'], {
    cwd: clone,
    env: { ...plainEnv, DISPLAY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitFor(
      () => output.includes('demo: running;') || (demo.exitCode !== null && assert.fail(`the demo exited: ${output}`)),
      'the demo to run',
      300_000,
    );
    assert.match(output, /bootstrap: npm dependencies are installed/);
    const url = /Tether console: (\S+)/.exec(output)![1]!;
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const runId = /demo: run ([0-9a-f]+):/.exec(output)![1]!;
    assert.equal((await docker('ps', '-q', '--filter', `label=tether.demo=${runId}`)).split('\n').filter(Boolean).length, 2);
    assert.match(readFileSync(join(clone, '.tether-demo', runId, 'agent.log'), 'utf8'), /"msg":"agent ready"/);

    // Ctrl-C in a terminal reaches npm, the bootstrap and the demo alike: the process group. npm
    // itself ends at once (as with any npm script); the demo goes on until it has cleaned up.
    process.kill(-demo.pid!, 'SIGINT');
    await waitFor(() => output.includes('demo: stopped'), 'the demo to say it stopped', 120_000);
    assert.equal(await docker('ps', '-aq', '--filter', `label=tether.demo=${runId}`), '', 'the demo containers are gone');
  } finally {
    endGroup(demo.pid!); // whatever is left of it (nothing, once the demo has stopped)
  }
});
