/**
 * The goals of issue 18 against one bench run's figures: each goal, the figure, whether it is met
 * and by how much it is missed. Figures an older results.json lacks are derived where they can be
 * (CPU per MB from CPU % and throughput), so that bench/chart.ts can draw earlier runs too.
 */
import { printTable, round } from './stats.js';

export interface Goal {
  key: string;
  what: string;
  unit: string;
  /** the figure must be at most (`max`) or at least (`min`) `goal` */
  kind: 'max' | 'min';
  goal: number;
}

export const GOALS: Goal[] = [
  { key: 'agentCpuMsPerMB', what: 'agent CPU per MB of terminal output', unit: 'ms/MB', kind: 'max', goal: 25 },
  { key: 'channelVsRawExec', what: 'channel throughput / raw exec', unit: '×', kind: 'min', goal: 0.5 },
  { key: 'tetherShareOfRendererCpu', what: "Tether's code in the renderer's CPU", unit: 'share', kind: 'max', goal: 0.1 },
  { key: 'echoP50VsRawExec', what: 'echo p50 at the console / raw exec', unit: '×', kind: 'max', goal: 2 },
  { key: 'echoP99VsRawExec', what: 'echo p99 at the console / raw exec', unit: '×', kind: 'max', goal: 3 },
  { key: 'timeToPromptMs', what: 'time to prompt', unit: 'ms', kind: 'max', goal: 150 },
  { key: 'agentRssIdleMB', what: 'agent idle RSS', unit: 'MB', kind: 'max', goal: 60 },
  { key: 'agentRssPerSessionCrowdBusyMB', what: 'agent RSS per busy session (100)', unit: 'MB', kind: 'max', goal: 2 },
  { key: 'weriftChromiumStalls', what: 'werift → Chromium stalls in 30 transfers', unit: 'stalls', kind: 'max', goal: 0 },
];

export interface GoalResult {
  key: string;
  what: string;
  unit: string;
  goal: string;
  value: number | null;
  met: boolean | null;
  /** how far the figure is from the goal, in its unit (0 when met) */
  missedBy: number | null;
  /**
   * The same figure for the reference peers measured in the same run (bench/floors.ts): a native
   * peer (libdatachannel) in the agent's place, and Chromium at both ends. Where the goal is beyond
   * them, no change to the agent alone reaches it.
   */
  reference?: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A goal's figure from a results.json, derived from older keys where the run predates it. */
export function figure(results: Record<string, unknown>, key: string): number | undefined {
  const direct = num(results[key]);
  if (direct !== undefined) return direct;
  const r = (k: string) => num(results[k]);
  switch (key) {
    case 'agentCpuMsPerMB': {
      const pct = r('agentCpuPctChannelThroughput');
      const mbps = r('channelThroughputMBps');
      return pct !== undefined && mbps ? round((pct * 10) / mbps, 1) : undefined;
    }
    case 'channelVsRawExec': {
      const c = r('channelThroughputMBps');
      const raw = r('rawExecThroughputMBps');
      return c !== undefined && raw ? round(c / raw, 3) : undefined;
    }
    case 'echoP50VsRawExec':
    case 'echoP99VsRawExec': {
      const p = key === 'echoP50VsRawExec' ? 'P50' : 'P99';
      const echo = r(`echo${p}Ms`);
      const raw = r(`rawExecEcho${p}Ms`);
      return echo !== undefined && raw ? round(echo / raw, 2) : undefined;
    }
    default:
      return undefined;
  }
}

/** The reference peers' figure for a goal, as text, where the run measured them. */
export function reference(results: Record<string, unknown>, key: string): string | undefined {
  const r = (k: string) => num(results[k]);
  const ratio = (a: number | undefined, b: number | undefined, digits: number) => (a !== undefined && b ? round(a / b, digits) : undefined);
  const both = (native: number | undefined, pair: number | undefined, unit: string) => {
    const parts = [native !== undefined ? `native peer ${native}${unit}` : '', pair !== undefined ? `Chromium pair ${pair}${unit}` : ''];
    const text = parts.filter(Boolean).join(', ');
    return text === '' ? undefined : text;
  };
  switch (key) {
    case 'agentCpuMsPerMB': {
      const native = r('floorNativePeerCpuMsPerMB');
      const werift = r('floorWeriftCpuMsPerMB');
      if (native === undefined) return undefined;
      return `send path alone: native peer ${native} ms/MB${werift !== undefined ? `, werift ${werift}` : ''}`;
    }
    case 'channelVsRawExec': {
      const raw = r('rawExecThroughputMBps');
      return both(ratio(r('floorNativePeerMBps'), raw, 2), ratio(r('floorChromiumPairMBps'), raw, 2), '×');
    }
    case 'echoP50VsRawExec':
    case 'echoP99VsRawExec': {
      const p = key === 'echoP50VsRawExec' ? 'P50' : 'P99';
      const raw = r(`rawExecEcho${p}Ms`);
      const text = both(ratio(r(`floorNativePeerEcho${p}Ms`), raw, 1), ratio(r(`floorChromiumPairEcho${p}Ms`), raw, 1), '×');
      return text && `the channel's round trip alone: ${text}`;
    }
    case 'agentRssIdleMB': {
      const empty = r('nodeEmptyRssMB');
      return empty !== undefined ? `an empty node process: ${empty} MB` : undefined;
    }
    default:
      return undefined;
  }
}

export function evaluateGoals(results: Record<string, unknown>): GoalResult[] {
  return GOALS.map((g) => {
    const value = figure(results, g.key) ?? null;
    const met = value === null ? null : g.kind === 'max' ? value <= g.goal : value >= g.goal;
    const missedBy = value === null ? null : met ? 0 : round(Math.abs(value - g.goal), 3);
    const ref = reference(results, g.key);
    return {
      key: g.key,
      what: g.what,
      unit: g.unit,
      goal: `${g.kind === 'max' ? '≤' : '≥'} ${g.goal}`,
      value,
      met,
      missedBy,
      ...(ref !== undefined ? { reference: ref } : {}),
    };
  });
}

export function printGoals(goals: GoalResult[]): void {
  console.log('\ngoals (issue 18)');
  printTable([
    ['goal', 'figure', 'status', 'reference peers in this run (bench/floors.ts)'],
    ...goals.map((g): [string, string, string, string] => [
      `${g.what} ${g.goal} ${g.unit}`,
      g.value === null ? 'n/a' : `${g.value} ${g.unit}`,
      g.met === null ? 'not measured' : g.met ? 'met' : `missed by ${g.missedBy} ${g.unit}`,
      g.reference ?? '',
    ]),
  ]);
}
