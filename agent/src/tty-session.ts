/**
 * One terminal session: one `docker exec` with a TTY, its output log and its limits. It lives
 * longer than any one data channel (DESIGN.md "Resume"): a channel attaches to it (tty-channel.ts),
 * and when that channel is lost without `close` the session is detached, goes on running and
 * logging output, and waits out its grace period for its console to resume it. It owns everything
 * it opens (exec stream, timers, the processes in the container) and releases all of it in
 * `dispose`, whichever way it ends: exit, `close`, a limit, the grace period, the agent stopping.
 *
 * Its parts: session-exec.ts opens and kills what it runs on, output-sender.ts sends its output to
 * the attached channel with flow control; this file decides when each happens.
 */
import { randomBytes } from 'node:crypto';
import {
  err,
  MAX_ALWAYS_WRITTEN_INPUT_BYTES,
  MAX_PENDING_INPUT_BYTES,
  MAX_QUEUED_INPUT_BYTES,
  ok,
  protocolError,
  RESUME_BUFFER_BYTES,
  type ContainerFate,
  type ErrorCode,
  type ProtocolError,
  type Result,
} from '@tether/protocol';
import type { AuditLog, AuditPeer } from './audit.js';
import { closeWhenDrained, drainAndClose, type DataChannelPort, type Unsubscribe } from './data-channel.js';
import { describeError } from './deadline.js';
import { addDebugFigures } from './debug-stats.js';
import { containerFate } from './container-fate.js';
import type { ResolvedTarget } from './docker-targets.js';
import { createLogger } from './log.js';
import { OutputLog } from './output-log.js';
import { OutputSender } from './output-sender.js';
import { SessionExec, type OpenRequest, type SessionExecOptions } from './session-exec.js';
import type { KillResult } from './session-killer.js';
import { SessionLimits } from './session-limits.js';
import { standingNotice } from './session-standing.js';
import { standingRecord } from './session-standing-host.js';

const log = createLogger(import.meta.url);

export interface TtySessionOptions extends SessionExecOptions {
  /** Who is on the other end, for the logs. */
  peerId: string;
  /** Who may resume the session: the enrolled console id, else the console's DTLS fingerprint. */
  owner: string;
  audit?: AuditLog;
  who?: AuditPeer;
}

/** How long a stopping agent waits, after the kill, for the exec stream's last output. */
const LAST_OUTPUT_WAIT_MS = 1000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function auditUnavailable(audit: AuditLog): ProtocolError {
  return protocolError(
    'AUDIT_UNAVAILABLE',
    `The agent cannot write its audit log (since ${audit.unavailableSince ?? 'now'}), and it starts no session it cannot audit. Free space on the agent's host; sessions are served again by themselves.`,
  );
}

/** The tab's notice when what is typed is recorded. */
export const INPUT_RECORDED_NOTICE =
  'What you type in this tab is recorded, passwords included: this agent records input (--record-input).';

export function newSessionId(): string {
  return randomBytes(12).toString('base64url');
}

export class TtySession {
  readonly output = new OutputLog(RESUME_BUFFER_BYTES);
  private readonly sender: OutputSender;
  private graceTimer: NodeJS.Timeout | undefined;
  /** When the session last lost its channel (`performance.now()`, so a stepped wall clock cannot reorder sessions); 0 while attached. */
  detachedAt = 0;
  private bytesIn = 0;
  private inputBytesReceived = 0;
  /** undefined while the process runs; its exit code (or null) once it ended */
  private exitCode: number | null | undefined;
  /** set with `exitCode` when the shell ended because its container stopped, restarted or went */
  private containerFate: ContainerFate | undefined;
  private ending = false;
  private disposing: Promise<void> | undefined;
  private readonly limits: SessionLimits;
  private readonly unsubscribe: Unsubscribe[] = [];
  /** Once ended: whether its processes could not be killed (neither from the host nor from inside). */
  processesLeft = false;
  /** Resolves once the session has ended and released everything. */
  readonly ended: Promise<void>;
  private markEnded!: () => void;
  /**
   * Resolves once the shell runs (session-exec.ts `running`): its start audited, the input held
   * until then written (its output is read a moment before, from session-exec.ts `readable` on).
   * An error: it never ran, and the session is being ended with that error as its notice
   * (`session.refused` in the audit log).
   */
  readonly running: Promise<Result<void>>;
  private isRunning = false;
  /** Input that came before the shell ran: written once it runs. */
  private heldInput: Buffer[] = [];
  private heldInputBytes = 0;
  /** Whether `session.start` went to the audit log (so `session.end` goes too). */
  private startAudited = false;

  private constructor(
    private readonly exec: SessionExec,
    private readonly options: TtySessionOptions,
    private readonly request: OpenRequest,
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    this.sender = new OutputSender(this.output, exec.handle.stream);
    this.sender.onCaughtUp(() => this.finishIfExited());
    const rules = options.rules?.config;
    this.limits = new SessionLimits(rules?.idleTimeoutMs ?? 0, rules?.maxSessionMs ?? 0, (code, message) =>
      this.limitReached(code, message),
    );
    this.unsubscribe.push(addDebugFigures(`session:${this.sessionId}`, () => this.figures()));
    this.running = this.whenRunning();
    // The shell's output is read as soon as the standing report is off the stream, while the host
    // completes its standing: the prompt comes 20-30 ms sooner (agent/README.md, "The first
    // prompt"). What is typed still waits for `running`.
    void exec.readable.then((starting) => {
      if (starting && !this.ending) this.readStream();
    });
  }

  /** The stream is the session's to read once session-exec.ts has taken its standing report off it. */
  private readStream(): void {
    const stream = this.exec.handle.stream;
    const onData = (chunk: Buffer) => this.take(chunk);
    // An end before the shell is known to run is handled once it is (or is not): the audit log has
    // the session's start before its end, and a shell that never ran is refused, not exited.
    const onEnd = () =>
      void this.running.then((running) => {
        if (running.ok) void this.exited();
      });
    const onError = (cause: Error) => {
      log.warn('exec stream error', { sessionId: this.sessionId, error: describeError(cause) });
      onEnd();
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    this.unsubscribe.push(() => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    });
    this.limits.start();
  }

  /**
   * Checks the target and the rules, then starts the exec: a detached session, as soon as the
   * exec's stream is attached. Its shell runs a moment later (`running`).
   */
  static async start(request: OpenRequest, options: TtySessionOptions): Promise<Result<TtySession>> {
    const audit = options.audit;
    if (audit && !audit.acceptsSessions) return err(auditUnavailable(audit));
    const sessionId = newSessionId();
    const exec = await SessionExec.start(sessionId, request, options);
    if (!exec.ok) return exec;
    return ok(new TtySession(exec.value, options, request));
  }

  private async whenRunning(): Promise<Result<void>> {
    const settled = await this.exec.running;
    // A session ended meanwhile (its stream closed under the standing report) is audited all the same.
    if (!settled.ok && !this.ending) return this.neverRan(settled.error, `the shell did not start: ${settled.error.message}`);
    const { options, request } = this;
    const audit = options.audit;
    const { target, handle, user, recorder, hostVisible, standing } = this.exec;
    const recorded = audit?.record('session.start', {
      ...options.who,
      sessionId: this.sessionId,
      container: target.name,
      containerId: target.id.slice(0, 12),
      user: user ?? null,
      shell: handle.shell,
      ...(recorder ? { recording: recorder.path } : {}),
      inputRecorded: recorder?.recordsInput === true,
      ...(standing ? { standing: standingRecord(standing) } : {}),
    });
    this.startAudited = audit !== undefined;
    // Ended before its shell ran (the tab closed at once): its start and end are audited all the same.
    if (this.ending) return settled.ok ? err(protocolError('EXEC_FAILED', 'The session ended before its shell ran.')) : settled;
    if (audit && recorded === false && audit.failure === 'closed') {
      // Strict recording: a session whose start is not in the audit log is not served (nothing
      // typed was written to it). Its start and end are held and written, after a gap record,
      // once the log can be written.
      return this.neverRan(auditUnavailable(audit), 'refused: the audit log cannot be written');
    }
    log.info('session opened', {
      sessionId: this.sessionId,
      peer: options.peerId,
      container: target.name,
      containerId: target.id.slice(0, 12),
      shell: handle.shell,
      cols: request.cols,
      rows: request.rows,
      hostPid: this.exec.hostPid,
      kill: hostVisible ? 'host-proc' : 'container-exec',
      ...(standing ? { standing: standing.standing ?? null, notApplied: standing.missing.map((m) => m.what) } : {}),
    });
    this.isRunning = true;
    for (const bytes of this.heldInput) this.write(bytes);
    this.heldInput = [];
    this.heldInputBytes = 0;
    return ok(undefined);
  }

  /** The shell never ran: audited as refused, and the session ends with `error` as its notice. */
  private neverRan(error: ProtocolError, reason: string): Result<void> {
    log.info('session refused', { sessionId: this.sessionId, peer: this.options.peerId, code: error.code, reason: error.message });
    this.options.audit?.record('session.refused', {
      ...this.options.who,
      sessionId: this.sessionId,
      code: error.code,
      reason: error.message,
    });
    void this.dispose(reason, null, error);
    return err(error);
  }

  get sessionId(): string {
    return this.exec.sessionId;
  }

  get target(): ResolvedTarget {
    return this.exec.target;
  }

  get user(): string | undefined {
    return this.exec.user;
  }

  get shell(): string {
    return this.exec.handle.shell;
  }

  /** What the tab must tell its user when it opens: that typing is recorded, what the session's standing lacks. */
  get notices(): string[] {
    return [...this.openNotices, ...this.runningNotices];
  }

  /** The notices known as soon as the session exists: that typing is recorded. */
  get openNotices(): string[] {
    return this.exec.recorder?.recordsInput ? [INPUT_RECORDED_NOTICE] : [];
  }

  /** The notices known once the shell runs: what the session's standing lacks. */
  get runningNotices(): string[] {
    const standing = this.exec.standing && standingNotice(this.exec.standing.missing);
    return standing ? [standing] : [];
  }

  /** The exec's process id on the host, once the shell runs; 0 before, or when Docker did not say. */
  get hostPid(): number {
    return this.exec.hostPid;
  }

  get owner(): string {
    return this.options.owner;
  }

  get graceMs(): number {
    return this.options.rules?.config.resumeGraceMs ?? 0;
  }

  get isAttached(): boolean {
    return this.sender.isAttached;
  }

  /** Whether the session sends to `channel`: a channel a resume took over is not, even before it closes. */
  isAttachedTo(channel: DataChannelPort): boolean {
    return this.sender.isAttachedTo(channel);
  }

  get isEnded(): boolean {
    return this.ending;
  }

  /** Where a console that has seen `received` bytes goes on from; BAD_MESSAGE beyond the output. */
  resumePoint(received: number): Result<{ from: number; lost: number }> {
    if (received > this.output.end) {
      return err(protocolError('BAD_MESSAGE', `received ${received} is more than the ${this.output.end} bytes this session produced`));
    }
    return ok(this.output.resumePoint(received));
  }

  /**
   * Makes `channel` the one the session sends to: from the start, or on a resume from the offset
   * that `resumePoint` gave.
   * A channel attached before is let go and closed: its console has moved on.
   */
  attach(channel: DataChannelPort, resumed?: { from: number; lost: number }): void {
    if (this.ending) return;
    const from = resumed?.from ?? 0;
    const tookOver = this.sender.attach(channel, from);
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.detachedAt = 0;
    if (resumed) {
      log.info('session resumed', {
        sessionId: this.sessionId,
        peer: this.options.peerId,
        from,
        lost: resumed.lost,
        end: this.output.end,
        tookOver,
      });
      this.options.audit?.record('session.resume', {
        ...this.options.who,
        sessionId: this.sessionId,
        container: this.target.name,
        from,
        lost: resumed.lost,
      });
    }
    this.sender.pump();
  }

  /** `channel` is gone without `close`: keep running for the grace period, then end. */
  detach(channel: DataChannelPort, reason: string): void {
    if (this.ending) return;
    const attachment = this.sender.detach(channel);
    if (!attachment) return;
    this.detachedAt = performance.now();
    const grace = this.graceMs;
    if (grace <= 0) {
      void this.dispose(reason);
      return;
    }
    log.info('session detached', {
      sessionId: this.sessionId,
      peer: this.options.peerId,
      reason,
      graceMs: grace,
      sent: attachment.sent,
      acked: attachment.acked,
    });
    this.options.audit?.record('session.detach', {
      ...this.options.who,
      sessionId: this.sessionId,
      container: this.target.name,
      reason,
      graceMs: grace,
    });
    this.graceTimer = setTimeout(() => void this.dispose('resume grace period over'), grace);
    this.graceTimer.unref();
    this.sender.updateReading();
  }

  /**
   * Input is written at once, whatever the output side is doing: Ctrl-C must never wait. False when
   * it was refused: more than MAX_PENDING_INPUT_BYTES wait for a shell that does not read.
   */
  input(bytes: Buffer): boolean {
    if (!this.isRunning && !this.ending) {
      // Held until the shell runs: written now, it would reach the standing script, and the
      // terminal's echo of it could come before the standing report (session-standing.ts).
      if (this.heldInputBytes + bytes.length > MAX_QUEUED_INPUT_BYTES) return false;
      this.inputBytesReceived += bytes.length;
      this.heldInput.push(bytes);
      this.heldInputBytes += bytes.length;
      return true;
    }
    this.inputBytesReceived += bytes.length;
    if (this.ending || this.exitCode !== undefined) return true;
    const stream = this.exec.handle.stream;
    if (bytes.length > MAX_ALWAYS_WRITTEN_INPUT_BYTES && stream.writableLength > MAX_PENDING_INPUT_BYTES) return false;
    this.write(bytes);
    return true;
  }

  private write(bytes: Buffer): void {
    const stream = this.exec.handle.stream;
    this.limits.touch();
    this.bytesIn += bytes.length;
    stream.write(bytes);
    this.exec.recorder?.input(bytes);
  }

  resize(cols: number, rows: number): void {
    if (this.ending || this.exitCode !== undefined) return;
    this.limits.touch();
    this.exec.recorder?.resize(cols, rows);
    void this.exec.handle.resize(cols, rows);
  }

  /** The console has parsed `bytes` more bytes; an ack beyond what was sent is capped. */
  ack(channel: DataChannelPort, bytes: number): void {
    this.sender.ack(channel, bytes);
  }

  private take(chunk: Buffer): void {
    this.output.append(chunk);
    this.exec.recorder?.output(chunk);
    this.sender.outputAdded();
  }

  /** The attached channel has all the output: after an exit, it gets `exit` and the session ends. */
  private finishIfExited(): void {
    if (this.exitCode === undefined || this.ending) return;
    const fate = this.containerFate;
    this.sender.send({ type: 'exit', code: this.exitCode, ...(fate ? { container: fate } : {}) });
    void this.dispose(
      fate ? `process exited: the container ${fate === 'removed' ? 'was removed' : fate}` : 'process exited',
      this.exitCode,
    );
  }

  private limitReached(code: ErrorCode, message: string): void {
    log.info('session limit reached', { sessionId: this.sessionId, code });
    // What the console lacks goes first, whatever the watermarks say: the session is over.
    this.sender.flush();
    this.sender.send({ type: 'error', code, message, fatal: true });
    void this.dispose(code === 'IDLE_TIMEOUT' ? 'idle timeout' : 'maximum duration');
  }

  /** The process ended on its own: the console gets the rest of the output, then `exit`. */
  private async exited(): Promise<void> {
    if (this.exitCode !== undefined || this.ending) return;
    const code = await this.exec.handle.exitCode();
    if (this.ending) return;
    if (code === null) {
      // No exit code: the shell may still run with its stream cut by the engine, or the engine
      // itself may be gone (stopped, restarting), and then nobody can tell.
      const running = await this.exec.handle.isRunning();
      if (this.ending) return;
      if (running !== false) return this.streamCut(running === null);
    }
    const fate = await containerFate(this.exec.target, code);
    if (this.ending) return;
    this.containerFate = fate;
    this.exitCode = code;
    log.debug('process exited', { sessionId: this.sessionId, code, container: fate, attached: this.isAttached });
    // Detached, the session waits out its grace period so that a resume still gets the end.
    this.sender.pump();
  }

  /**
   * The stream ended while the shell runs: the Docker engine cut it (a restart with live-restore
   * keeps the container and its processes), and an exec cannot be attached again; or the stream
   * ended and the engine could not be asked why (`engineGone`: it stopped or is restarting). Either
   * way nobody can reach the shell any more: it is ended (on the host, by its process id, which
   * needs no engine), and the console and the audit log are told why, not that it exited.
   */
  private streamCut(engineGone: boolean): void {
    log.warn(
      engineGone
        ? 'the terminal stream ended and the Docker engine does not answer; ending the session'
        : 'the Docker engine cut the terminal stream while the shell ran; ending the session',
      { sessionId: this.sessionId, attached: this.isAttached },
    );
    this.sender.flush();
    this.sender.send({
      type: 'error',
      code: 'DOCKER_UNAVAILABLE',
      message: engineGone
        ? "This terminal's stream ended and the Docker engine does not answer (it stopped or is restarting?); the shell cannot be reached again and was ended."
        : "The Docker engine cut this terminal's stream (it restarted?) while the shell ran; the shell cannot be reached again and was ended.",
      fatal: true,
    });
    void this.dispose(
      engineGone
        ? 'the terminal stream ended and the Docker engine did not answer; the shell was ended'
        : 'the Docker engine cut the terminal stream (engine restarted?); the shell was ended',
    );
  }

  /**
   * Ends the session: kills its processes, closes its channel, releases everything. Idempotent.
   * With `notice` (the agent stops), the processes are killed first while their last output is
   * read; the channel then gets all the output, the notice as a fatal error, and is closed once
   * that has left its buffer, before this resolves.
   */
  dispose(reason: string, exitCode: number | null = null, notice?: ProtocolError): Promise<void> {
    this.disposing ??= (async () => {
      this.ending = true;
      this.limits.dispose();
      clearTimeout(this.graceTimer);
      let killed: KillResult;
      if (notice) {
        const stream = this.exec.handle.stream;
        const streamEnded = new Promise<void>((resolve) => {
          if (stream.readableEnded || stream.destroyed) return resolve();
          stream.once('end', () => resolve());
          stream.once('close', () => resolve());
        });
        killed = await this.exec.kill(true);
        await Promise.race([streamEnded, delay(LAST_OUTPUT_WAIT_MS)]);
        for (const off of this.unsubscribe.splice(0)) off();
        this.sender.flush();
        this.sender.send({ type: 'error', code: notice.code, message: notice.message, fatal: true });
        const channel = this.sender.stop();
        if (channel?.isOpen) await drainAndClose(channel);
      } else {
        for (const off of this.unsubscribe.splice(0)) off();
        const channel = this.sender.stop();
        killed = await this.exec.kill();
        // The channel closes once the processes are gone and the slot is free (protocol/README.md,
        // "State rules"): a console that opens a new session when it sees the close is not refused
        // SESSION_LIMIT by the one it just ended.
        await this.exec.release();
        if (channel?.isOpen) closeWhenDrained(channel);
      }
      this.processesLeft = killed.method === 'none';
      log.debug('session processes killed', { sessionId: this.sessionId, method: killed.method, found: killed.found });
      await this.exec.release();
      const recording = this.exec.recorder?.stoppedBecause;
      if (this.startAudited)
        this.options.audit?.record('session.end', {
          ...this.options.who,
          sessionId: this.sessionId,
          container: this.target.name,
          reason,
          exitCode,
          bytesIn: this.bytesIn,
          bytesOut: this.output.end,
          ...(recording ? { recordingStopped: recording } : {}),
        });
      log.info('session closed', {
        sessionId: this.sessionId,
        peer: this.options.peerId,
        container: this.target.name,
        reason,
        exitCode,
        bytesIn: this.bytesIn,
        bytesOut: this.output.end,
        pauses: this.sender.pauses,
      });
      this.markEnded();
    })();
    return this.disposing;
  }

  /** Input bytes written and not yet taken by Docker (at most MAX_PENDING_INPUT_BYTES and a frame); for tests and logs. */
  get pendingInput(): number {
    return this.exec.handle.stream.writableLength;
  }

  /** Input bytes that reached the session from any channel, written or refused: `opened.resumed.inputReceived`. */
  get inputReceived(): number {
    return this.inputBytesReceived;
  }

  /** What the debug stats show of this session: where its output is, why it is not sent, its input. */
  private figures(): Record<string, unknown> {
    return {
      ...this.sender.figures(),
      inputReceived: this.inputBytesReceived,
      pendingInput: this.pendingInput,
      readableFlowing: this.exec.handle.stream.readableFlowing,
    };
  }

  /** Output offsets of the attached channel; for tests and logs. */
  get flow(): { produced: number; sent: number; acked: number; paused: boolean } {
    return this.sender.flow;
  }
}
