/**
 * What the soak compares before and after each phase: the processes in every container, and the
 * agent's memory, file descriptors, handles, peers and sessions (its opt-in debug stats, which
 * collect garbage first). A phase passes when, within the settle time, every figure is back to
 * the baseline within the stated tolerance.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import type { AgentProcess } from '../../harness/agent-process.js';
import type { TestContainer } from '../../harness/docker.js';
import { memoryMap, type MemoryMap } from './memory-map.js';

export interface Tolerance {
  /** heap in use after a full GC may exceed the baseline by this much */
  heapBytes: number;
  /** memory outside the V8 heap that Node accounts for (Buffers, the sessions' output logs) */
  externalBytes: number;
  /** RSS may exceed the baseline by this much (V8 and glibc keep freed pages) */
  rssBytes: number;
  /** open file descriptors above the baseline (keep-alive sockets to the Docker engine) */
  fds: number;
}

export interface Snapshot {
  at: string;
  rssBytes: number;
  heapUsedBytes: number;
  /** V8's heap reserved and resident after the GC, and V8's own malloc'd memory */
  heapTotalBytes: number;
  heapPhysicalBytes: number;
  v8MallocedBytes: number;
  v8SpacesBytes: Record<string, number>;
  /** `external` of process.memoryUsage() after the GC: Buffers and other memory V8 does not hold */
  externalBytes: number;
  /** the part of `external` that is ArrayBuffers (Buffers) */
  arrayBuffersBytes: number;
  /** the RSS by kind of mapping: glibc's heap and arenas, other anonymous memory, files */
  map: MemoryMap;
  fds: number;
  peers: number;
  /** `tty:` channels open */
  channels: number;
  /** sessions the agent holds, attached or detached (waiting for a resume) */
  sessions: number;
  /** active handles by type (`process.getActiveResourcesInfo()`) */
  resources: Record<string, number>;
  /** container name → processes other than its init (`docker top`) */
  extraProcesses: Record<string, string[]>;
}

interface DebugStatsLine {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  heapPhysicalBytes: number;
  v8MallocedBytes: number;
  v8SpacesBytes: Record<string, number>;
  externalBytes: number;
  arrayBuffersBytes: number;
  peers: number;
  channels: number;
  sessions: number;
  detached: number;
  resources: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends SIGUSR2 and waits for the agent's next `debug stats` line. */
export async function debugStats(agent: AgentProcess, timeoutMs = 10_000): Promise<DebugStatsLine> {
  const count = () => agent.logs().filter((l) => l.includes('"msg":"debug stats"')).length;
  const before = count();
  process.kill(agent.pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = agent.logs().filter((l) => l.includes('"msg":"debug stats"'));
    if (lines.length > before) return JSON.parse(lines.at(-1)!) as DebugStatsLine;
    if (Date.now() > deadline) throw new Error(`the agent logged no "debug stats" within ${timeoutMs} ms (count ${count()})`);
    await sleep(50);
  }
}

/** The container's processes without its init (`sleep 2147483`, the image's CMD). */
export async function extraProcesses(container: TestContainer): Promise<string[]> {
  const rows = await container.processes();
  return rows.filter((row) => !/\bsleep 2147483$/.test(row));
}

export async function snapshot(agent: AgentProcess, containers: TestContainer[]): Promise<Snapshot> {
  const stats = await debugStats(agent);
  const extra: Record<string, string[]> = {};
  for (const c of containers) {
    const rows = await extraProcesses(c);
    if (rows.length > 0) extra[c.name] = rows;
  }
  return {
    at: new Date().toISOString(),
    rssBytes: agent.rssBytes(),
    heapUsedBytes: stats.heapUsedBytes,
    heapTotalBytes: stats.heapTotalBytes,
    heapPhysicalBytes: stats.heapPhysicalBytes,
    v8MallocedBytes: stats.v8MallocedBytes,
    v8SpacesBytes: stats.v8SpacesBytes,
    externalBytes: stats.externalBytes,
    arrayBuffersBytes: stats.arrayBuffersBytes,
    map: memoryMap(agent.pid),
    fds: agent.fdCount(),
    peers: stats.peers,
    channels: stats.channels,
    sessions: stats.sessions,
    resources: stats.resources,
    extraProcesses: extra,
  };
}

/** What is still above the baseline; empty when the snapshot is back to it. */
export function leaks(base: Snapshot, now: Snapshot, tolerance: Tolerance): string[] {
  const found: string[] = [];
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  for (const [name, rows] of Object.entries(now.extraProcesses))
    found.push(`${rows.length} process(es) left in ${name}: ${rows.join(' | ')}`);
  if (now.peers > 0) found.push(`${now.peers} peer connection(s) still held`);
  if (now.channels > 0) found.push(`${now.channels} terminal channel(s) still open`);
  if (now.sessions > 0) found.push(`${now.sessions} session(s) still held`);
  if (now.fds > base.fds + tolerance.fds) found.push(`file descriptors ${now.fds} > baseline ${base.fds} + ${tolerance.fds}`);
  if (now.heapUsedBytes > base.heapUsedBytes + tolerance.heapBytes) {
    found.push(`heap after GC ${mb(now.heapUsedBytes)} > baseline ${mb(base.heapUsedBytes)} + ${mb(tolerance.heapBytes)}`);
  }
  if (now.externalBytes > base.externalBytes + tolerance.externalBytes) {
    found.push(`external memory after GC ${mb(now.externalBytes)} > baseline ${mb(base.externalBytes)} + ${mb(tolerance.externalBytes)}`);
  }
  const handles = (s: Snapshot) => Object.values(s.resources).reduce((a, b) => a + b, 0);
  if (handles(now) > handles(base))
    found.push(`${handles(now)} active handles > baseline ${handles(base)}: ${JSON.stringify(now.resources)}`);
  if (now.rssBytes > base.rssBytes + tolerance.rssBytes)
    found.push(`RSS ${mb(now.rssBytes)} > baseline ${mb(base.rssBytes)} + ${mb(tolerance.rssBytes)}`);
  return found;
}

/**
 * V8 gives back the pages of its young generation (up to ~30 MB after a busy phase) only in the
 * collections of its memory reducer, which runs 8 s after the last full collection once the
 * process is idle. Every sample forces a full collection, so sampling every 2 s would keep that
 * memory in the RSS for as long as it goes on, which an agent in production does not do.
 */
const QUIET_MS = 12_000;

/**
 * Samples until nothing is left above the baseline or `settleMs` has passed; the last sample and
 * what stayed. Every 2 s while anything but RSS is above; every QUIET_MS when only RSS is.
 */
export async function settle(agent: AgentProcess, containers: TestContainer[], base: Snapshot, tolerance: Tolerance, settleMs: number) {
  const started = Date.now();
  for (;;) {
    const now = await snapshot(agent, containers);
    const found = leaks(base, now, tolerance);
    const settledS = Math.round((Date.now() - started) / 100) / 10;
    if (found.length === 0 || Date.now() - started > settleMs) return { snapshot: now, leaks: found, settledS };
    await sleep(found.every((f) => f.startsWith('RSS ')) ? QUIET_MS : 2000);
  }
}

/**
 * RSS before and after glibc's malloc_trim(0), called in the agent through gdb: the memory that
 * malloc held free (trim returns free pages in every arena, not only at the top). What is left is
 * memory in use, V8's, or fragments too small to return. Needs gdb and ptrace rights (root here).
 */
export async function mallocTrim(
  agent: AgentProcess,
  containers: TestContainer[],
): Promise<{ before: Snapshot; after: Snapshot } | { error: string }> {
  const before = await snapshot(agent, containers);
  const gdb = spawnSync('gdb', ['-p', String(agent.pid), '-batch', '-nx', '-ex', 'call (int) malloc_trim(0)'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (gdb.status !== 0 || !/\$1 = [01]/.test(gdb.stdout))
    return { error: `gdb: status ${gdb.status}, ${gdb.error?.message ?? ''} ${gdb.stdout.slice(-300)} ${gdb.stderr.slice(-300)}` };
  await sleep(1000);
  return { before, after: await snapshot(agent, containers) };
}

/**
 * SIGUSR1 to an agent started with `--heapsnapshot-signal=SIGUSR1 --diagnostic-dir=<dir>`; waits
 * for the snapshot Node writes there and renames it `<label>.heapsnapshot`.
 */
export async function heapSnapshot(agent: AgentProcess, dir: string, label: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const known = new Set(readdirSync(dir));
  process.kill(agent.pid, 'SIGUSR1');
  for (let waited = 0; waited < 120_000; waited += 500) {
    await sleep(500);
    const written = readdirSync(dir).find((f) => !known.has(f) && f.endsWith('.heapsnapshot'));
    // Node writes the file in one go and is unresponsive meanwhile: done once the stats answer.
    if (
      written &&
      (await debugStats(agent).then(
        () => true,
        () => false,
      ))
    ) {
      const path = `${dir}/${label}.heapsnapshot`;
      renameSync(`${dir}/${written}`, path);
      return path;
    }
  }
  throw new Error(`no heap snapshot in ${dir} within 120 s`);
}
