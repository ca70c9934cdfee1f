#!/usr/bin/env node
// Writes the next patch of werift's patch series (agent/patches/werift+<version>+NNN+<name>.patch)
// from what was changed by hand in agent/node_modules/werift: the difference between the published
// package with every existing patch applied and the files as they are now. patch-package's own
// `--append` does the same but cannot read an npm workspace's lockfile; `npm ci` applies the series
// with patch-package (the root's postinstall). agent/WERIFT.md says how the series is kept.
//
//   node agent/patches/make-patch.mjs <name>      e.g. sctp-sack-without-sort
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const installed = join(here, '../node_modules/werift');
const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: node agent/patches/make-patch.mjs <name-in-kebab-case>');
  process.exit(2);
}
const { version } = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
const series = readdirSync(here).filter((f) => f.startsWith(`werift+${version}+`) && f.endsWith('.patch')).sort();

const work = mkdtempSync(join(tmpdir(), 'werift-patch-'));
try {
  // The published package, then the series on it, in node_modules/werift as the patches name it.
  const tarball = execFileSync('npm', ['pack', `werift@${version}`, '--silent', '--pack-destination', work], { encoding: 'utf8' }).trim();
  const base = join(work, 'base');
  execFileSync('mkdir', ['-p', join(base, 'node_modules')]);
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', join(base, 'node_modules')]);
  execFileSync('mv', [join(base, 'node_modules/package'), join(base, 'node_modules/werift')]);
  for (const patch of series) execFileSync('git', ['apply', join(here, patch)], { cwd: base });
  const now = join(work, 'now');
  execFileSync('mkdir', ['-p', join(now, 'node_modules')]);
  cpSync(installed, join(now, 'node_modules/werift'), { recursive: true, filter: (src) => !src.endsWith('.patch-package.json') });
  let diff = '';
  try {
    execFileSync('git', ['diff', '--no-index', '--no-prefix', 'base/node_modules/werift', 'now/node_modules/werift'], { cwd: work, encoding: 'utf8' });
  } catch (error) {
    diff = error.stdout; // git diff --no-index exits 1 when the trees differ
  }
  if (!diff) {
    console.error('agent/node_modules/werift does not differ from the published package with the series applied: nothing to write');
    process.exit(1);
  }
  diff = diff
    .replaceAll(/^diff --git base\/(\S+) now\/(\S+)$/gm, 'diff --git a/$1 b/$2')
    .replaceAll(/^--- base\//gm, '--- a/')
    .replaceAll(/^\+\+\+ now\//gm, '+++ b/');
  const number = String(series.length + 1).padStart(3, '0');
  const file = join(here, `werift+${version}+${number}+${name}.patch`);
  const preface = `werift ${version}: ${name}\n\nWhy: (say what broke, how it was seen, and how the change fixes it; agent/WERIFT.md lists it too)\nUpstream: (the file and function of werift-webrtc's source this changes)\n\n`;
  writeFileSync(file, preface + diff);
  console.log(`wrote ${file}: write its Why and Upstream lines, add it to agent/WERIFT.md and prove it in agent/test/werift-patches.test.ts`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
