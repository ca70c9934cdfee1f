/**
 * What a terminal session (tty-session.ts) runs on: its target checked against the rules, the
 * session slot the rules gave it, the `docker exec` itself with its standing beside the workload
 * (session-standing.ts: priority, CPUs, caps, applied before the shell runs), whether the host sees
 * its processes (how they are killed), and its recording. Opened in `start`, before the session
 * exists; given back in `kill` and `release` when the session is disposed.
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
import type { SessionRules } from './session-rules.js';
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

export class SessionExec {
  private constructor(
    readonly sessionId: string,
    readonly target: ResolvedTarget,
    readonly handle: ExecHandle,
    /** The exec's host pid (Docker's; asked again after start when it had not said); 0 when unknown. */
    readonly hostPid: number,
    /** Whether the host sees the exec's processes, so that they are killed from the host. */
    readonly hostVisible: boolean,
    /** The container's pid namespace as the host sees it, read at start; the host kill looks only there. */
    readonly pidNamespace: string | undefined,
    readonly user: string | undefined,
    private readonly releaseSlot: (() => void) | undefined,
    readonly recorder: SessionRecorder | undefined,
    /** the standing its processes got; undefined without rules (unit tests), where the shell starts as Docker starts it */
    readonly standing: StandingOutcome | undefined,
  ) {}

  /** Checks the target and the rules, then starts the exec with the session's markers in its environment. */
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
    // The standing report first: once the script has written it, the exec runs and a busy Docker
    // engine that had not told its pid at start does.
    const report = resolved ? await readStandingReport(handle.value.stream) : undefined;
    const hostPid = await handle.value.currentPid();
    const hostVisible = await hostSeesProcess(hostPid, sessionId);
    const pidNamespace = hostVisible ? await pidNamespaceOf(hostPid) : undefined;
    let standing: StandingOutcome | undefined;
    if (resolved && report) {
      const settled = await settleStanding(report, sessionId, hostPid, resolved, pidNamespace);
      if (!settled.ok) {
        await killSession(target.value.container, hostPid, sessionId, hostVisible, { user, pidNamespace });
        handle.value.stream.destroy();
        releaseSlot?.();
        return settled;
      }
      standing = settled.value;
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
    return ok(
      new SessionExec(sessionId, target.value, handle.value, hostPid, hostVisible, pidNamespace, user, releaseSlot, recorder, standing),
    );
  }

  /**
   * Kills every process of the session; says how, and how many it found. The exec stream is closed
   * first unless `keepStream`: a stopping agent reads the output the processes write until they die.
   */
  kill(keepStream = false): Promise<KillResult> {
    if (!keepStream) this.handle.stream.destroy();
    const handle = this.handle;
    return killSession(this.target.container, this.hostPid, this.sessionId, this.hostVisible, {
      user: this.user,
      resolvePid: () => handle.currentPid(),
      pidNamespace: this.pidNamespace,
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
