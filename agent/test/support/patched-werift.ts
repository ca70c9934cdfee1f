/**
 * werift as the agent runs it: the installed package with Tether's patch series (agent/patches,
 * applied by `npm ci`), checked before it is handed out. The same module that agent/src imports.
 */
import type * as WeriftModule from 'werift';
import { build } from '../../build.mjs';
import { assertWeriftPatched } from '../../werift-patches.mjs';

export type Werift = typeof WeriftModule;

let loaded: Promise<Werift> | undefined;

/** The patched werift (throws when the installed werift lacks a patch of the series). */
export function patchedWerift(): Promise<Werift> {
  loaded ??= (async () => {
    assertWeriftPatched();
    return (await import('werift')) as Werift;
  })();
  return loaded;
}

let built: Promise<void> | undefined;

/** Builds agent/dist once per test process. */
export function buildAgent(): Promise<void> {
  built ??= build();
  return built;
}
