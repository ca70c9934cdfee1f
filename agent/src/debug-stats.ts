/**
 * Opt-in figures for soak runs and leak hunts: with `TETHER_AGENT_DEBUG_STATS=1`, SIGUSR2 makes
 * the agent collect garbage (when Node runs with `--expose-gc`) and log one `debug stats` line:
 * memory, the handles Node holds open by type, and the agent's peers and sessions. Off by default:
 * without it SIGUSR2 keeps Node's default action (the process ends), as a stray signal should.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/**
 * Figures that parts of the agent add to every sample while they live, by name: a session's output
 * flow (`session:<id>`), a peer's SCTP association (`peer:<negotiationId>`). A stalled terminal is
 * diagnosed from these: who holds the bytes, the session, werift's queues or the console.
 */
const figureSources = new Map<string, () => unknown>();

/** Adds `figures` to every debug sample under `name` until the returned function is called. */
export function addDebugFigures(name: string, figures: () => unknown): () => void {
  figureSources.set(name, figures);
  return () => {
    if (figureSources.get(name) === figures) figureSources.delete(name);
  };
}

function collectFigures(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, figures] of figureSources) {
    try {
      out[name] = figures();
    } catch (cause) {
      // A diagnostic must not break the sample: say what failed instead.
      out[name] = { error: String(cause) };
    }
  }
  return out;
}

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
  /** what addDebugFigures registered: sessions' flow, peers' SCTP state */
  figures: Record<string, unknown>;
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
    figures: collectFigures(),
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

/** The parts of werift's SCTP association and transport that the figures read (not in its types). */
interface WeriftSctpState {
  sctp?: {
    associationState: number;
    flightSize: number;
    cwnd: number;
    ssthresh?: number;
    rto: number;
    peerAdvertisedRwnd: number;
    advertisedRwnd: number;
    outboundQueue: unknown[];
    sentQueue: { retransmit?: boolean; acked?: boolean }[];
    transmitting: boolean;
    timer3Handle?: unknown;
    fastRecoveryExit?: number;
    localTsn: number;
    lastSackedTsn: number;
    lastReceivedTsn?: number;
    sackMisOrdered: Set<number>;
    inboundStreams: Record<string, { reassembly: unknown[]; streamSequenceNumber: number }>;
  };
  dataChannelQueue?: unknown[];
  dataChannels?: Record<string, { label: string; readyState: string; bufferedAmount: number }>;
}

/**
 * One peer's SCTP figures from werift's internals: the send side (flight size, congestion window,
 * the peer's window, queues, TSNs) and the receive side (cumulative TSN, out-of-order TSNs held,
 * chunks waiting in each stream's reassembly), and each channel's bufferedAmount.
 */
export function sctpFigures(transport: unknown): Record<string, unknown> | undefined {
  const { sctp, dataChannelQueue, dataChannels } = (transport ?? {}) as WeriftSctpState;
  if (!sctp) return undefined;
  const reassembly: Record<string, { chunks: number; ssn: number }> = {};
  for (const [id, stream] of Object.entries(sctp.inboundStreams)) {
    reassembly[id] = { chunks: stream.reassembly.length, ssn: stream.streamSequenceNumber };
  }
  const channels: Record<string, { label: string; state: string; buffered: number }> = {};
  for (const [id, channel] of Object.entries(dataChannels ?? {})) {
    channels[id] = { label: channel.label.slice(0, 24), state: channel.readyState, buffered: channel.bufferedAmount };
  }
  return {
    association: sctp.associationState,
    flightSize: sctp.flightSize,
    cwnd: sctp.cwnd,
    ssthresh: sctp.ssthresh,
    rto: sctp.rto,
    peerRwnd: sctp.peerAdvertisedRwnd,
    ownRwnd: sctp.advertisedRwnd,
    outboundQueue: sctp.outboundQueue.length,
    sentQueue: sctp.sentQueue.length,
    sentAcked: sctp.sentQueue.filter((chunk) => chunk.acked).length,
    sentRetransmit: sctp.sentQueue.filter((chunk) => chunk.retransmit).length,
    transmitting: sctp.transmitting,
    t3Armed: sctp.timer3Handle !== undefined,
    fastRecoveryExit: sctp.fastRecoveryExit,
    localTsn: sctp.localTsn,
    lastSackedTsn: sctp.lastSackedTsn,
    lastReceivedTsn: sctp.lastReceivedTsn,
    misOrdered: sctp.sackMisOrdered.size,
    misOrderedMin: [...sctp.sackMisOrdered].reduce<number | undefined>(
      (min, tsn) => (min === undefined || tsn < min ? tsn : min),
      undefined,
    ),
    reassembly,
    dataChannelQueue: dataChannelQueue?.length,
    channels,
  };
}
