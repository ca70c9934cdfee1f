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

export function evaluateGoals(results: Record<string, unknown>): GoalResult[] {
  return GOALS.map((g) => {
    const value = figure(results, g.key) ?? null;
    const met = value === null ? null : g.kind === 'max' ? value <= g.goal : value >= g.goal;
    const missedBy = value === null ? null : met ? 0 : round(Math.abs(value - g.goal), 3);
    return { key: g.key, what: g.what, unit: g.unit, goal: `${g.kind === 'max' ? '≤' : '≥'} ${g.goal}`, value, met, missedBy };
  });
}

export function printGoals(goals: GoalResult[]): void {
  console.log('\ngoals (issue 18)');
  printTable([
    ['goal', 'figure', 'status'],
    ...goals.map((g): [string, string, string] => [
      `${g.what} ${g.goal} ${g.unit}`,
      g.value === null ? 'n/a' : `${g.value} ${g.unit}`,
      g.met === null ? 'not measured' : g.met ? 'met' : `missed by ${g.missedBy} ${g.unit}`,
    ]),
  ]);
}
