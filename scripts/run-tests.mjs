#!/usr/bin/env node
// Runs every test file with Node's test runner, TypeScript through tsx, workspace packages from
// their sources (the `source` export condition). Pass file paths to run only those.
//
// Files run in parallel, TETHER_TEST_CONCURRENCY at a time (default: the number of cores, at
// least 3: see `concurrency` below), since no two share state: servers listen on port 0, containers and network
// namespaces have random names, state folders are temporary, and what several files would build (the test
// images, below; the agent and renderer bundles, by `npm run build` before this; nfq-delay, built
// under a temporary name) is built before they start or built atomically. The slowest files start
// first, so that no long file is left running alone at the end.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const roots = ['protocol/test', 'signaling/test', 'agent/test', 'test'];

// A file whose tests are done exits even if a child or socket it forgot keeps its event loop alive
// (--test-force-exit), and no single test may hang the run: 10 minutes is far above the slowest.
const TEST_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * The slowest files, slowest first (per-file test times of a clean-clone CI run, README "Tests");
 * the others follow in name order.
 */
const SLOWEST_FIRST = [
  'test/e2e/network-faults.test.ts',
  'test/e2e/fresh-clone.test.ts',
  'test/e2e/file-transfer.test.ts',
  'test/e2e/console-resume.test.ts',
  'agent/test/fuzz-agent.test.ts',
  'test/e2e/turn-expiry.test.ts',
  'test/e2e/console-resume-signaling.test.ts',
  'agent/test/download-integrity.test.ts',
  'test/e2e/flood.test.ts',
  'test/e2e/network-impairment.test.ts',
  'test/e2e/turn-relay.test.ts',
  'agent/test/werift-turn-tcp.test.ts',
  'test/e2e/console-tabs-scale.test.ts',
  'test/e2e/console-frozen-agent.test.ts',
  'test/e2e/hostile-relay.test.ts',
  'agent/test/werift-turn-nonce.test.ts',
  'test/e2e/console-agent-stop.test.ts',
  'test/e2e/console-states.test.ts',
  'test/e2e/install.test.ts',
  'test/e2e/console-agent-loss.test.ts',
  'agent/test/stray-processes.test.ts',
  'test/e2e/device-list-fleet.test.ts',
  'agent/test/agent-rules.test.ts',
  'test/e2e/demo.test.ts',
  'agent/test/control-loop.test.ts',
];

function find(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out; // a package without tests yet
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    if (entry === 'node_modules') continue;
    if (statSync(path).isDirectory()) out = out.concat(find(path));
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const rank = (file) => {
  const i = SLOWEST_FIRST.indexOf(file);
  return i < 0 ? SLOWEST_FIRST.length : i;
};
const given = process.argv.slice(2);
const files =
  given.length > 0
    ? given
    : roots
        .flatMap(find)
        .sort()
        .sort((a, b) => rank(a) - rank(b));

// One file more than there are cores on a 2-core machine: the files spend most of their time
// waiting (on shells, reconnects, link cuts, timers), not computing. A clean-clone CI run two at a
// time used 8.5 min of CPU (user and system, the containers' shells left out) in 11 min 9 s, 39 % of
// the two cores; three at a time, the same suite took 7 min 35 s, all passing (README, "Tests").
// The tests wait on conditions, not on wall-clock budgets of their own: a third file makes their
// waits longer, not their outcome different.
const concurrency = Number(process.env.TETHER_TEST_CONCURRENCY) || Math.max(3, availableParallelism());

// The agent bundle when its sources changed since it was built (npm test has just built it): the
// files only check it, and never rebuild it while others run it.
const bundled = spawnSync(process.execPath, ['agent/build.mjs', '--if-stale'], { stdio: 'inherit' });
if (bundled.status !== 0) process.exit(bundled.status ?? 1);

// The Docker engine and the test images, once, before files that use them start side by side
// (each would otherwise start dockerd or build the images itself, racing the others).
if (files.length > 1 && concurrency > 1) {
  const prepared = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', "await (await import('./harness/docker.ts')).ensureDocker()"],
    { stdio: 'inherit' },
  );
  if (prepared.status !== 0) {
    console.error('run-tests: the Docker engine or the test images are not ready (see above)');
    process.exit(prepared.status ?? 1);
  }
}

// Each file's wall time, slowest first, at the end (scripts/file-times.mjs): SLOWEST_FIRST's source.
const fileTimes = join('test-results', 'file-times.txt');
mkdirSync('test-results', { recursive: true });

console.log(`run-tests: ${files.length} file${files.length === 1 ? '' : 's'}, ${Math.min(concurrency, files.length)} at a time`);
const result = spawnSync(
  process.execPath,
  [
    '--conditions=source',
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-force-exit',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/file-times.mjs',
    `--test-reporter-destination=${fileTimes}`,
    ...files,
  ],
  {
    stdio: 'inherit',
    // Sessions at the agent's default standing (SCHED_IDLE, nice 19) get no CPU while anything else
    // wants it, and two test files with Chromium, Docker and agents keep both cores busy: shells
    // then answered after tens of seconds. The test agents run sessions at normal priority; the
    // tests of the standing itself (agent/test/control-loop.test.ts and session-standing.test.ts)
    // ask for `--session-priority idle`, which wins over this variable.
    env: { TETHER_AGENT_SESSION_PRIORITY: 'normal', ...process.env },
  },
);
if (existsSync(fileTimes)) process.stdout.write(`\nrun-tests: each file's time (${fileTimes})\n${readFileSync(fileTimes, 'utf8')}`);
process.exit(result.status ?? 1);
