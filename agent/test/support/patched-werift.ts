/** Builds the agent bundle and a patched werift (what the bundle ships) for tests to load. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as WeriftModule from 'werift';
import { buildIfStale, buildWeriftOnly } from '../../build.mjs';

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

/** Builds agent/dist when it is missing or stale, once per test process (never under other files' feet: see buildIfStale). */
export function buildAgent(): Promise<void> {
  built ??= buildIfStale();
  return built;
}
