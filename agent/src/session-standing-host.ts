/**
 * The host's share of a session's standing (session-standing.ts): what the container lacked the
 * tools for, set by the agent on the session's processes as the host sees them, then read back from
 * the host's /proc. Used only where the host's /proc shows the session's processes (the agent as
 * root, or with CAP_SYS_PTRACE), never on a bare pid Docker reported, which in another pid
 * namespace would be another process. Each step needs its own privilege over another user's
 * process (docs/operations.md): `setpriority`, `sched_setscheduler` and `ioprio_set` CAP_SYS_NICE,
 * `oom_score_adj` write access to the file (CAP_DAC_OVERRIDE), `prlimit` CAP_SYS_RESOURCE; a step
 * that fails leaves that item as it was, and the assessment says so.
 *
 * SCHED_IDLE, I/O class, affinity and limits are set with the host's util-linux tools (`chrt`,
 * `ionice`, `taskset`, `prlimit`), as Node has no binding for those system calls.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { promisify } from 'node:util';
import { err, ok, protocolError, type Result } from '@tether/protocol';
import { describeError } from './deadline.js';
import { noteHostWorkBeside } from './host-work.js';
import { createLogger } from './log.js';
import { hostProcesses } from './session-killer.js';
import type { ResolvedStanding } from './session-rules.js';
import {
  assessStanding,
  POLICIES,
  sameCpus,
  type ReportRead,
  type SessionResources,
  type Shortfall,
  type Standing,
} from './session-standing.js';

const log = createLogger(import.meta.url);
const run = promisify(execFile);

/** One host tool call; they take milliseconds, but a loaded host must not hold a session start. */
const HOST_TOOL_TIMEOUT_MS = 5000;

/** What the host side did: the standing read back, and each step it took, with how it went. */
export interface HostCompletion {
  standing: Standing;
  steps: string[];
}

async function tool(command: string, args: string[]): Promise<string | undefined> {
  try {
    await run(command, args, { timeout: HOST_TOOL_TIMEOUT_MS });
    return undefined;
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr?.trim();
    return stderr || describeError(cause);
  }
}

/** Runs `step` on every pid; a failure is reported with the first error. */
async function onEach(pids: number[], step: (pid: number) => Promise<string | undefined>): Promise<string | undefined> {
  for (const pid of pids) {
    const failed = await step(pid);
    if (failed !== undefined) return failed;
  }
  return undefined;
}

/** The standing of host process `pid` as its /proc shows it; `io` is not in /proc and is given. */
export async function hostStanding(pid: number, io: Standing['io'], procRoot = '/proc'): Promise<Standing | undefined> {
  try {
    const stat = await readFile(`${procRoot}/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = await readFile(`${procRoot}/${pid}/status`, 'utf8');
    const limits = await readFile(`${procRoot}/${pid}/limits`, 'utf8');
    const oom = await readFile(`${procRoot}/${pid}/oom_score_adj`, 'utf8');
    const limit = (name: string): number | 'unlimited' | null => {
      const soft = new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(limits)?.[1];
      return soft === 'unlimited' ? 'unlimited' : soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : null;
    };
    // fields[0] is field 3: nice is field 19, the policy field 41
    return {
      nice: Number(fields[16]),
      policy: POLICIES[fields[38] ?? ''] ?? null,
      io,
      oomScoreAdj: Number(oom.trim()),
      cpus: /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? null,
      memoryBytes: limit('Max address space'),
      processes: limit('Max processes'),
    };
  } catch (cause) {
    log.debug('host standing unreadable', { pid, error: describeError(cause) });
    return undefined;
  }
}

/**
 * Sets on the host, on `pids` (the session's processes; the shell first), what `resources` asks for
 * and `standing` lacks; returns the shell's standing read back and the steps taken. Nothing to do
 * when nothing is missing.
 */
export async function completeOnHost(pids: number[], resources: SessionResources, standing: Standing): Promise<HostCompletion> {
  const steps: string[] = [];
  const step = async (what: string, action: () => Promise<string | undefined>) => {
    const failed = await action();
    steps.push(failed === undefined ? what : `${what} failed: ${failed}`);
    return failed === undefined;
  };
  let io = standing.io;
  if (resources.priority === 'idle') {
    // The policy before nice: a policy change may reset the nice value.
    if (standing.policy !== 'idle') await step('SCHED_IDLE', () => onEach(pids, (pid) => tool('chrt', ['--idle', '-p', '0', String(pid)])));
    if (standing.nice !== 19) {
      await step('nice 19', () =>
        onEach(pids, async (pid) => {
          try {
            setPriority(pid, 19);
            return undefined;
          } catch (cause) {
            return describeError(cause);
          }
        }),
      );
    }
    if (standing.io !== 'idle' && (await step('idle I/O class', () => tool('ionice', ['-c', '3', '-p', ...pids.map(String)])))) io = 'idle';
    if (standing.oomScoreAdj !== 1000) {
      await step('oom_score_adj 1000', () =>
        onEach(pids, async (pid) => {
          try {
            await writeFile(`/proc/${pid}/oom_score_adj`, '1000');
            return undefined;
          } catch (cause) {
            return describeError(cause);
          }
        }),
      );
    }
  }
  if (resources.cpus !== undefined && (standing.cpus === null || !sameCpus(standing.cpus, resources.cpus))) {
    await step(`CPUs ${resources.cpus}`, () => onEach(pids, (pid) => tool('taskset', ['-a', '-c', '-p', resources.cpus!, String(pid)])));
  }
  const limits: string[] = [];
  const memory = resources.memoryBytes === undefined ? undefined : Math.floor(resources.memoryBytes / 1024) * 1024;
  if (memory !== undefined && standing.memoryBytes !== memory) limits.push(`--as=${memory}:${memory}`);
  if (resources.processes !== undefined && standing.processes !== resources.processes)
    limits.push(`--nproc=${resources.processes}:${resources.processes}`);
  if (limits.length > 0) await step('limits', () => onEach(pids, (pid) => tool('prlimit', ['--pid', String(pid), ...limits])));
  if (steps.length === 0) return { standing, steps };
  const readBack = await hostStanding(pids[0]!, io);
  return { standing: readBack ?? standing, steps };
}

/** What a session's standing came to, for the audit record and the tab. */
export interface StandingOutcome {
  resources: SessionResources;
  /** what holds for the shell; undefined when the agent got no report */
  standing: Standing | undefined;
  /** what was wanted and does not hold, the rule's malformed labels included */
  missing: Shortfall[];
  /** what the agent set on the host, and how it went */
  hostSteps: string[];
}

/**
 * From the standing report read off the exec's stream (`readStandingReport`): sets on the host what
 * is missing where the host's /proc shows the session (`pidNamespace` given), and assesses the
 * result. An error when the stream ended before the report: the shell did not start.
 */
export async function settleStanding(
  read: ReportRead,
  sessionId: string,
  shellPid: number,
  resolved: ResolvedStanding,
  pidNamespace: string | undefined,
): Promise<Result<StandingOutcome>> {
  if (read.kind === 'ended') {
    return err(protocolError('EXEC_FAILED', `The shell ended as it started${read.output ? `: ${read.output.trim()}` : ''}`));
  }
  let standing = read.kind === 'report' ? read.standing : undefined;
  if (read.kind === 'none') log.warn('no standing report', { sessionId, why: read.why });
  // Once per CPU list: whether the kernel's own work for the session may still run beside the runtime.
  if (resolved.resources.cpus !== undefined) void noteHostWorkBeside(resolved.resources.cpus);
  let missing = assessStanding(resolved.resources, standing);
  let hostSteps: string[] = [];
  if (standing && missing.length > 0 && pidNamespace !== undefined) {
    const processes = (await hostProcesses(pidNamespace))?.filter((p) => p.session === sessionId).map((p) => p.pid) ?? [];
    const pids = [shellPid, ...processes.filter((pid) => pid !== shellPid)];
    const completed = await completeOnHost(pids, resolved.resources, standing);
    standing = completed.standing;
    hostSteps = completed.steps;
    missing = assessStanding(resolved.resources, standing);
  }
  const ignored = resolved.ignored.map((what) => ({ what, minor: false }));
  return ok({ resources: resolved.resources, standing, missing: [...ignored, ...missing], hostSteps });
}

/** The audit record's `standing`: what was wanted, what holds, what could not be applied, what the host did. */
export function standingRecord(outcome: StandingOutcome): Record<string, unknown> {
  const { priority, cpus, memoryBytes, processes } = outcome.resources;
  return {
    wanted: {
      priority,
      ...(cpus === undefined ? {} : { cpus }),
      ...(memoryBytes === undefined ? {} : { memoryBytes }),
      ...(processes === undefined ? {} : { processes }),
    },
    holds: outcome.standing ?? null,
    notApplied: outcome.missing.map((m) => m.what),
    ...(outcome.hostSteps.length > 0 ? { onHost: outcome.hostSteps } : {}),
  };
}
