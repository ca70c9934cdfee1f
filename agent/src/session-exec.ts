/**
 * What a terminal session (tty-session.ts) runs on: its target checked against the rules, the
 * session slot the rules gave it, the `docker exec` itself with its standing beside the workload
 * (session-standing.ts: priority, CPUs, caps, applied before the shell runs), whether the host sees
 * its processes (how they are killed), and its recording. Opened in `start`, before the session
 * exists, which resolves as soon as the exec's stream is attached; what needs the shell running
 * (its host pid, its standing) comes with `running`. Given back in `kill` and `release` when the
 * session is disposed.
 *
 * Every process of the session carries its markers in its environment (`TETHER_SESSION=<id>` and
 * the agent's `TETHER_AGENT=<tag>`, session-killer.ts): whatever its Linux session or parent, the
 * kill finds it by them.
 */
import { ok, type Result } from '@tether/protocol';
import type { DockerTargets, ResolvedTarget } from './docker-targets.js';
import { startExec, type ExecHandle } from './exec-handle.js';
import { hostSeesProcess, killSession, pidNamespaceOf, sessionMarkers, type KillResult } from './session-killer.js';
import { SessionRecorder } from './session-recorder.js';
import type { ResolvedStanding, SessionRules } from './session-rules.js';
import { readStandingReport, standingCommand } from './session-standing.js';
import { settleStanding, type StandingOutcome } from './session-standing-host.js';

export interface SessionExecOptions {
  targets: DockerTargets;
  shells: string[];
  /** exec user when there are no rules (unit tests) */
  user?: string | undefined;
  /** exec user, session limit, idle and maximum duration, resume grace period, the agent's mark */
  rules?: SessionRules;
}

export interface OpenRequest {
  target: string;
  cols: number;
  rows: number;
}

/** Where the session's processes are, as the host sees them: known once its shell runs. */
interface Located {
  /** The exec's host pid (Docker's); 0 when unknown. */
  hostPid: number;
  /** Whether the host sees the exec's processes, so that they are killed from the host. */
  hostVisible: boolean;
  /** The container's pid namespace as the host sees it; the host kill looks only there. */
  pidNamespace: string | undefined;
}

export class SessionExec {
  private located: Located = { hostPid: 0, hostVisible: false, pidNamespace: undefined };
  private settledStanding: StandingOutcome | undefined;
  /**
   * Resolves once the shell runs: its standing report read off the stream (nothing else may read
   * the stream before), its host pid known, its standing settled. An error: it never ran (it ended
   * as it started); the caller ends the session.
   */
  readonly running: Promise<Result<void>>;
  /**
   * Resolves once the stream is the session's to read (the standing report is off it) with whether
   * the shell is starting: false when the stream ended first. The shell's output may be read from
   * then on; its input waits for `running`, when its standing is settled on the host as well.
   */
  readonly readable: Promise<boolean>;
  private markReadable!: (starting: boolean) => void;

  private constructor(
    readonly sessionId: string,
    readonly target: ResolvedTarget,
    readonly handle: ExecHandle,
    readonly user: string | undefined,
    private readonly releaseSlot: (() => void) | undefined,
    readonly recorder: SessionRecorder | undefined,
    resolved: ResolvedStanding | undefined,
  ) {
    this.readable = new Promise((resolve) => (this.markReadable = resolve));
    this.running = this.settle(resolved);
  }

  /**
   * Checks the target and the rules, then starts the exec with the session's markers in its
   * environment; resolves as soon as its stream is attached, before the shell runs (`running`).
   */
  static async start(sessionId: string, request: OpenRequest, options: SessionExecOptions): Promise<Result<SessionExec>> {
    const target = await options.targets.resolve(request.target);
    if (!target.ok) return target;
    const rules = options.rules;
    const user = rules ? rules.userFor(target.value.name, target.value.labels) : options.user;
    let releaseSlot: (() => void) | undefined;
    if (rules) {
      const slot = rules.acquire(target.value.id, target.value.name);
      if (!slot.ok) return slot;
      releaseSlot = slot.value;
    }
    const resolved = rules?.standingFor(target.value.name, target.value.labels);
    const handle = await startExec(target.value, {
      shells: options.shells,
      cols: request.cols,
      rows: request.rows,
      env: sessionMarkers(sessionId, rules?.config.agentTag),
      user,
      command: resolved ? (shell) => standingCommand(shell, resolved.resources) : undefined,
    });
    if (!handle.ok) {
      releaseSlot?.();
      return handle;
    }
    const recordDir = rules?.config.recordDir;
    const recorder = recordDir
      ? SessionRecorder.start(recordDir, {
          sessionId,
          container: target.value.name,
          shell: handle.value.shell,
          cols: request.cols,
          rows: request.rows,
          input: rules?.config.recordInput === true,
        })
      : undefined;
    return ok(new SessionExec(sessionId, target.value, handle.value, user, releaseSlot, recorder, resolved));
  }

  private async settle(resolved: ResolvedStanding | undefined): Promise<Result<void>> {
    // The standing report first, read before anything else reads the stream: once the script has
    // written it, the exec runs and a busy Docker engine that had not told its pid at start does.
    const report = resolved ? await readStandingReport(this.handle.stream) : undefined;
    this.markReadable(report?.kind !== 'ended');
    const hostPid = await this.handle.currentPid();
    const hostVisible = await hostSeesProcess(hostPid, this.sessionId);
    const pidNamespace = hostVisible ? await pidNamespaceOf(hostPid) : undefined;
    this.located = { hostPid, hostVisible, pidNamespace };
    if (resolved && report) {
      const settled = await settleStanding(report, this.sessionId, hostPid, resolved, pidNamespace);
      if (!settled.ok) return settled;
      this.settledStanding = settled.value;
    }
    return ok(undefined);
  }

  /** The exec's host pid once the shell runs (`running`); 0 before, or when Docker did not say. */
  get hostPid(): number {
    return this.located.hostPid;
  }

  /** Whether the host sees the session's processes (known once the shell runs). */
  get hostVisible(): boolean {
    return this.located.hostVisible;
  }

  /** The standing its processes got, once the shell runs; undefined before, and without rules (unit tests). */
  get standing(): StandingOutcome | undefined {
    return this.settledStanding;
  }

  /**
   * Kills every process of the session; says how, and how many it found. The exec stream is closed
   * first unless `keepStream`: a stopping agent reads the output the processes write until they die.
   */
  async kill(keepStream = false): Promise<KillResult> {
    if (!keepStream) this.handle.stream.destroy();
    // Where the processes are is known once the shell runs: a session ended before that (the
    // console closed its tab at once) waits for it, or the kill would look for them blind.
    await this.running;
    const { hostPid, hostVisible, pidNamespace } = this.located;
    const handle = this.handle;
    return killSession(this.target.container, hostPid, this.sessionId, hostVisible, {
      user: this.user,
      resolvePid: () => handle.currentPid(),
      pidNamespace,
    });
  }

  /** After `kill`: finishes the recording and gives the session slot back to the rules. Idempotent. */
  release(): Promise<void> {
    this.releasing ??= (async () => {
      this.handle.stream.destroy();
      await this.recorder?.close();
      this.releaseSlot?.();
    })();
    return this.releasing;
  }

  private releasing: Promise<void> | undefined;
}
