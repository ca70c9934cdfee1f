/**
 * Opt-in figures for soak runs and leak hunts: with `TETHER_AGENT_DEBUG_STATS=1`, SIGUSR2 makes
 * the agent collect garbage (when Node runs with `--expose-gc`) and log one `debug stats` line:
 * memory, the handles Node holds open by type, and the agent's peers and sessions. Off by default:
 * without it SIGUSR2 keeps Node's default action (the process ends), as a stray signal should.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

export interface AgentCounts {
  peers: number;
  /** `tty:` channels open on those peers */
  channels: number;
  /** terminal sessions, attached or waiting to be resumed */
  sessions: number;
  detached: number;
}

export interface DebugStats extends AgentCounts {
  gc: boolean;
  rssBytes: number;
  heapUsedBytes: number;
  /** V8's heap as reserved, and the part of it that is resident (pages V8 keeps after a GC count) */
  heapTotalBytes: number;
  heapPhysicalBytes: number;
  /** what V8 itself holds from malloc (compiler zones, tables), outside its heap */
  v8MallocedBytes: number;
  /** resident bytes of each V8 space (new_space, old_space, code_space, large_object_space, …) */
  v8SpacesBytes: Record<string, number>;
  externalBytes: number;
  arrayBuffersBytes: number;
  /** `process.getActiveResourcesInfo()` counted by type: sockets, timers, file handles, … */
  resources: Record<string, number>;
}

/**
 * One sample; collects garbage first when `global.gc` exists. Twice: V8 frees the memory of dead
 * ArrayBuffers (Buffers) in a sweep that ends after the collection, so `external` only drops after
 * the next one. (`gc({ type: 'major', … })` with options collected nothing in Node 20: plain calls.)
 */
export function collectDebugStats(counts: () => AgentCounts): DebugStats {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const memory = process.memoryUsage();
  const v8 = getHeapStatistics();
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return {
    gc: gc !== undefined,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    heapPhysicalBytes: v8.total_physical_size,
    v8MallocedBytes: v8.malloced_memory,
    v8SpacesBytes: Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.physical_space_size])),
    externalBytes: memory.external,
    arrayBuffersBytes: memory.arrayBuffers,
    resources,
    ...counts(),
  };
}

/** Logs the stats on every SIGUSR2 when `TETHER_AGENT_DEBUG_STATS=1`; returns how to stop. */
export function installDebugStats(env: NodeJS.ProcessEnv, counts: () => AgentCounts): () => void {
  if (env.TETHER_AGENT_DEBUG_STATS !== '1') return () => undefined;
  const onSignal = () => log.info('debug stats', { ...collectDebugStats(counts) });
  process.on('SIGUSR2', onSignal);
  log.info('debug stats on SIGUSR2', { gc: typeof (globalThis as { gc?: unknown }).gc === 'function' });
  return () => process.off('SIGUSR2', onSignal);
}
