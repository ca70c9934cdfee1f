/**
 * werift as the agent runs it: the installed package with Tether's patch series (agent/patches,
 * applied by `npm ci`), checked before it is handed out. The same module that agent/src imports.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
// werift is the agent's dependency (agent/node_modules), not the repository root's.
import type * as WeriftModule from '../agent/node_modules/werift/lib/webrtc/src/index.js';
import { buildIfStale } from '../agent/build.mjs';
import { assertWeriftPatched, PATCH_DIR, WERIFT_DIR } from '../agent/werift-patches.mjs';

export type Werift = typeof WeriftModule;

let loaded: Promise<Werift> | undefined;

/** The patched werift (throws when the installed werift lacks a patch of the series). */
export function patchedWerift(): Promise<Werift> {
  loaded ??= (async () => {
    assertWeriftPatched();
    return (await import(pathToFileURL(join(WERIFT_DIR, 'lib/index.mjs')).href)) as Werift;
  })();
  return loaded;
}

/**
 * The installed werift with one patch of the series taken back out, for a test that shows what
 * that patch fixes: the patches after it are taken out too (`git apply -R`, last first), then it,
 * and those after it are put back, each that still applies (one that changes its code cannot be).
 * Written beside the real one (agent/node_modules), so that werift's own dependencies resolve as
 * usual; `name` is the patch's name, e.g. `turn-stale-nonce`.
 */
export async function weriftWithout(name: string): Promise<Werift> {
  assertWeriftPatched();
  const series = readdirSync(PATCH_DIR)
    .filter((f) => f.endsWith('.patch'))
    .sort();
  const index = series.findIndex((f) => f.endsWith(`+${name}.patch`));
  if (index < 0) throw new Error(`no patch named ${name} in ${PATCH_DIR}`);
  const later = series.slice(index + 1);
  // git apply works on paths relative to a repository when run inside one: reversed in a
  // temporary folder outside it, then put beside the installed werift.
  const work = mkdtempSync(join(tmpdir(), 'tether-werift-without-'));
  mkdirSync(join(work, 'node_modules/werift/lib'), { recursive: true });
  copyFileSync(join(WERIFT_DIR, 'lib/index.mjs'), join(work, 'node_modules/werift/lib/index.mjs'));
  const apply = (patch: string, ...flags: string[]) =>
    execFileSync('git', ['apply', ...flags, join(PATCH_DIR, patch)], { cwd: work, stdio: 'pipe' });
  for (const patch of [...later].reverse()) apply(patch, '-R');
  apply(series[index]!, '-R');
  for (const patch of later) {
    try {
      apply(patch, '--check');
    } catch {
      continue; // it builds on the one taken out
    }
    apply(patch);
  }
  const dir = join(WERIFT_DIR, '..', `.werift-without-${name}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'index.mjs');
  copyFileSync(join(work, 'node_modules/werift/lib/index.mjs'), file);
  rmSync(work, { recursive: true, force: true });
  return (await import(pathToFileURL(file).href)) as Werift;
}

let built: Promise<void> | undefined;

/** Builds agent/dist when it is missing or stale, once per test process (never under other files' feet: see buildIfStale). */
export function buildAgent(): Promise<void> {
  built ??= buildIfStale();
  return built;
}
