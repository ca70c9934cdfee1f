/**
 * The README's demo command on a fresh clone, with a plain environment (a system PATH, HOME, LANG:
 * no ELECTRON_SKIP_BINARY_DOWNLOAD, no node_modules, no build, nothing of this run's), as a
 * newcomer would type it: `npm run demo`, until it serves the console, then Ctrl-C, which removes
 * its containers. Its bootstrap is the one `npm test` runs (a supported Node.js when the machine's
 * is older, system packages, the Docker engine, `npm ci`), then the build and the demo.
 *
 * The README's other command, `npm test`, is what CI runs on a fresh clone (`.ci/run` is that
 * command and nothing else): running it here as well, even narrowed to two files, cost this file
 * 45 s of the suite's time (a second `npm ci`, typecheck, lint) and proved nothing CI does not.
 *
 * The clone is of the committed HEAD: uncommitted changes are not in it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
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

test('on a fresh clone, npm run demo installs what it needs, serves the console and cleans up on Ctrl-C', async () => {
  assert.equal(existsSync(join(clone, 'node_modules')), false);
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
    assert.match(output, /bootstrap: installing the npm dependencies \(npm ci\)/);
    assert.doesNotMatch(
      output,
      /EBADENGINE|install-scripts|ENOTFOUND/,
      'no engine warning, no unreviewed install script, no download that fails',
    );
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
