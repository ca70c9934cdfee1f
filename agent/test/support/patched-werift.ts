/** Builds the agent bundle and a patched werift (what the bundle ships) for tests to load. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as WeriftModule from 'werift';
import { build, buildWeriftOnly } from '../../build.mjs';

export type Werift = typeof WeriftModule;

let loaded: Promise<Werift> | undefined;

/** werift with the agent's bundle-time patches (#706, no STUN fallback, stale TURN nonce). */
export function patchedWerift(): Promise<Werift> {
  loaded ??= (async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tether-werift-')), 'werift.mjs');
    await buildWeriftOnly(file);
    return (await import(pathToFileURL(file).href)) as Werift;
  })();
  return loaded;
}

let built: Promise<void> | undefined;

/** Builds agent/dist once per test process. */
export function buildAgent(): Promise<void> {
  built ??= build();
  return built;
}
