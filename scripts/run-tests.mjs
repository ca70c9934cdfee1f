#!/usr/bin/env node
// Runs every test file with Node's test runner, TypeScript through tsx, workspace packages from
// their sources (the `source` export condition). Files run one at a time: the end-to-end tests
// share one Docker engine and two cores. Pass file paths to run only those.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['protocol/test', 'signaling/test', 'agent/test', 'test'];

// A file whose tests are done exits even if a child or socket it forgot keeps its event loop alive
// (--test-force-exit), and no single test may hang the run: 10 minutes is far above the slowest.
const TEST_TIMEOUT_MS = 10 * 60 * 1000;

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

const files = process.argv.length > 2 ? process.argv.slice(2) : roots.flatMap(find).sort();
const result = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
