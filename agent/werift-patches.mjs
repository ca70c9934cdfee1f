// Which werift the agent runs: the package in agent/node_modules/werift with Tether's patch series
// (agent/patches/*.patch, applied by patch-package from the root's postinstall). Source runs, tests
// and the bundle all load that one copy; the build and the tests call assertWeriftPatched() so that
// a werift installed without the series (scripts skipped, a version bump, a patch edited and not
// re-applied) fails loudly instead of running unpatched. agent/WERIFT.md describes each patch.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const PATCH_DIR = join(here, 'patches');
export const WERIFT_DIR = join(here, 'node_modules/werift');

/** The patch series for the installed werift version, in the order patch-package applies it. */
export function weriftPatchSeries(weriftDir = WERIFT_DIR, patchDir = PATCH_DIR) {
  const { version } = JSON.parse(readFileSync(join(weriftDir, 'package.json'), 'utf8'));
  const files = readdirSync(patchDir)
    .filter((f) => f.startsWith('werift+') && f.endsWith('.patch'))
    .sort();
  const stale = files.filter((f) => !f.startsWith(`werift+${version}+`));
  if (stale.length > 0) throw new Error(`werift ${version} is installed but patches are written for another version: ${stale.join(', ')}`);
  return files.map((file) => {
    const text = readFileSync(join(patchDir, file), 'utf8');
    return { file, title: text.slice(0, text.indexOf('\n')), sha256: createHash('sha256').update(text).digest('hex') };
  });
}

/** Throws unless every patch of the series is applied, as it is now, to the installed werift. */
export function assertWeriftPatched(weriftDir = WERIFT_DIR, patchDir = PATCH_DIR) {
  const series = weriftPatchSeries(weriftDir, patchDir);
  let state;
  try {
    state = JSON.parse(readFileSync(join(weriftDir, '.patch-package.json'), 'utf8'));
  } catch {
    throw new Error('agent/node_modules/werift carries no patches: run `npm ci` (or `cd agent && npx patch-package`)');
  }
  const applied = new Map(state.patches.filter((p) => p.didApply).map((p) => [p.patchFilename, p.patchContentHash]));
  for (const patch of series) {
    const hash = applied.get(patch.file);
    if (hash === undefined) throw new Error(`werift lacks ${patch.file}: run \`cd agent && npx patch-package\``);
    if (hash !== patch.sha256)
      throw new Error(`werift carries an older ${patch.file}: reinstall it (rm -rf agent/node_modules/werift && npm ci)`);
  }
  if (readFileSync(join(weriftDir, 'lib/index.mjs'), 'utf8').includes('stun.l.google.com')) {
    throw new Error('the installed werift still falls back to stun.l.google.com');
  }
  return series;
}
