/**
 * The soak's results: what each phase did, the agent's figures after it settled, and where its
 * RSS lies (glibc heap and arenas, other anonymous memory, files). Printed as tables and written
 * as JSON; the exit code says whether every phase came back to the baseline without errors.
 */
import { writeFileSync } from 'node:fs';
import { printTable, round } from '../stats.js';
import type { Snapshot } from './probes.js';

export interface PhaseResult {
  /** the phase and its round: busy, busy#2, … */
  name: string;
  kind: string;
  durationS: number;
  work: number;
  errors: string[];
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  extra: Record<string, number>;
  peakRssBytes: number;
  peakSessions: number;
  after: Snapshot;
  settledS: number;
  leaks: string[];
}

export type SoakResults = Record<string, unknown> & {
  phases: PhaseResult[];
  errors: string[];
  baseline?: Snapshot;
  trim?: { before: Snapshot; after: Snapshot } | { error: string };
};

const mb = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : `${round(bytes / 1e6, 1)} MB`);

function memoryRow(name: string, s: Snapshot): [string, string, string] {
  const m = s.map;
  return [
    name,
    `RSS ${mb(s.rssBytes)}: glibc heap ${mb(m.heapBytes)}, ${m.arenas} arena heaps ${mb(m.arenaBytes)}, other anon ${mb(m.otherAnonBytes)}, files ${mb(m.fileBytes)}`,
    `V8 heap used ${mb(s.heapUsedBytes)} of ${mb(s.heapTotalBytes)} (resident ${mb(s.heapPhysicalBytes)}), V8 malloc ${mb(s.v8MallocedBytes)}, external ${mb(s.externalBytes)}`,
  ];
}

/** Prints the tables, writes `outPath`, and returns the exit code. */
export function report(results: SoakResults, outPath: string): number {
  const base = results.baseline;
  const rows: Array<[string, string, string?]> = [['phase', 'work', 'after settling (baseline in brackets)']];
  for (const p of results.phases) {
    const work =
      p.kind === 'cycles'
        ? `${p.work} cycles, p50 ${p.latencyP50Ms} ms, p99 ${p.latencyP99Ms} ms`
        : p.kind === 'busy'
          ? `${p.extra.sessionsOpened} sessions, ${p.work} commands, p50 ${p.latencyP50Ms} ms, p99 ${p.latencyP99Ms} ms`
          : `${p.work} sessions dropped`;
    rows.push([
      p.name,
      `${work}; ${p.durationS} s; ${p.errors.length} errors`,
      `heap ${mb(p.after.heapUsedBytes)} (${mb(base?.heapUsedBytes)}), RSS ${mb(p.after.rssBytes)} (${mb(base?.rssBytes)}; peak ${mb(p.peakRssBytes)}), ` +
        `fds ${p.after.fds} (${base?.fds}), peers ${p.after.peers}, sessions ${p.after.sessions}, ` +
        `processes left ${Object.values(p.after.extraProcesses).flat().length}; ${p.leaks.length === 0 ? 'OK' : 'LEAK'} after ${p.settledS} s`,
    ]);
  }
  console.log('');
  printTable(rows);
  const memory: Array<[string, string, string?]> = [['memory', 'where the RSS lies', 'V8 and Node']];
  if (base) memory.push(memoryRow('baseline', base));
  for (const p of results.phases) memory.push(memoryRow(p.name, p.after));
  if (results.trim && 'after' in results.trim) {
    memory.push(memoryRow('before trim', results.trim.before), memoryRow('malloc_trim(0)', results.trim.after));
  }
  console.log('');
  printTable(memory);
  if (results.trim && 'error' in results.trim) console.log(`malloc_trim not done: ${results.trim.error}`);
  const failures = [
    ...results.errors,
    ...results.phases.flatMap((p) => [...p.leaks.map((l) => `${p.name}: leak: ${l}`), ...p.errors.map((e) => `${p.name}: ${e}`)]),
  ];
  results.pass = failures.length === 0;
  writeFileSync(outPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten to ${outPath}`);
  if (failures.length === 0) {
    console.log('soak passed: no process left, the agent back to its baseline after every phase');
    return 0;
  }
  console.log(`\nsoak FAILED (${failures.length}):`);
  for (const f of failures.slice(0, 60)) console.log(`  - ${f}`);
  return 1;
}
