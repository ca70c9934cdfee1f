/**
 * What a terminal session (tty-session.ts) runs on: its target checked against the rules, the
 * session slot the rules gave it, the `docker exec` itself, whether the host sees its processes
 * (how they are killed), and its recording. Opened in `start`, before the session exists; given back
 * in `kill` and `release` when the session is disposed.
 */
import { ok, type Result } from '@tether/protocol';
import type { DockerTargets, ResolvedTarget } from './docker-targets.js';
import { startExec, type ExecBridge } from './exec-bridge.js';
import { hostSeesProcess, killSession, type KillMethod } from './session-killer.js';
import { SessionRecorder } from './session-recorder.js';
import type { SessionRules } from './session-rules.js';

export interface SessionExecOptions {
  targets: DockerTargets;
  shells: string[];
  /** exec user when there are no rules (unit tests) */
  user?: string | undefined;
  /** exec user, session limit, idle and maximum duration, resume grace period */
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
    readonly bridge: ExecBridge,
    /** Whether the host sees the exec's processes, so that they are killed from the host. */
    readonly hostVisible: boolean,
    readonly user: string | undefined,
    private readonly releaseSlot: (() => void) | undefined,
    readonly recorder: SessionRecorder | undefined,
  ) {}

  /** Checks the target and the rules, then starts the exec with the session id in its environment. */
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
    const bridge = await startExec(target.value, {
      shells: options.shells,
      cols: request.cols,
      rows: request.rows,
      env: [`TETHER_SESSION=${sessionId}`],
      user,
    });
    if (!bridge.ok) {
      releaseSlot?.();
      return bridge;
    }
    const hostVisible = await hostSeesProcess(bridge.value.pid, sessionId);
    const recordDir = rules?.config.recordDir;
    const recorder = recordDir
      ? SessionRecorder.start(recordDir, { sessionId, container: target.value.name, shell: bridge.value.shell, cols: request.cols, rows: request.rows })
      : undefined;
    return ok(new SessionExec(sessionId, target.value, bridge.value, hostVisible, user, releaseSlot, recorder));
  }

  /** Closes the exec stream and kills every process of the session; says how. */
  kill(): Promise<KillMethod> {
    this.bridge.stream.destroy();
    const bridge = this.bridge;
    return killSession(this.target.container, bridge.pid, this.sessionId, this.hostVisible, { user: this.user, resolvePid: () => bridge.currentPid() });
  }

  /** After `kill`: finishes the recording and gives the session slot back to the rules. */
  async release(): Promise<void> {
    await this.recorder?.close();
    this.releaseSlot?.();
  }
}
