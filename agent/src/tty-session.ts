/**
 * One terminal session: one `docker exec` with a TTY, its output log and its limits. It lives
 * longer than any one data channel (DESIGN.md "Resume"): a channel attaches to it (tty-channel.ts),
 * and when that channel is lost without `close` the session is detached, goes on running and
 * logging output, and waits out its grace period for its console to resume it. It owns everything
 * it opens (exec stream, timers, the processes in the container) and releases all of it in
 * `dispose`, whichever way it ends: exit, `close`, a limit, the grace period, the agent stopping.
 */
import { randomBytes } from 'node:crypto';
import {
  CHANNEL_BUFFER_HIGH_BYTES,
  CHANNEL_BUFFER_LOW_BYTES,
  encodeMessage,
  err,
  HIGH_WATERMARK_BYTES,
  LOW_WATERMARK_BYTES,
  MAX_ALWAYS_WRITTEN_INPUT_BYTES,
  MAX_PENDING_INPUT_BYTES,
  ok,
  OUTPUT_BATCH_BYTES,
  protocolError,
  RESUME_BUFFER_BYTES,
  type AgentTtyMessage,
  type ErrorCode,
  type Result,
} from '@tether/protocol';
import type { AuditLog, AuditPeer } from './audit.js';
import { closeWhenDrained, type DataChannelPort, type Unsubscribe } from './data-channel.js';
import { describeError } from './deadline.js';
import { addDebugFigures } from './debug-stats.js';
import type { DockerTargets, ResolvedTarget } from './docker-targets.js';
import { startExec, type ExecBridge } from './exec-bridge.js';
import { createLogger } from './log.js';
import { OutputLog } from './output-log.js';
import { hostSeesProcess, killSession } from './session-killer.js';
import { SessionLimits } from './session-limits.js';
import { SessionRecorder } from './session-recorder.js';
import type { SessionRules } from './session-rules.js';

const log = createLogger(import.meta.url);

export interface TtySessionOptions {
  targets: DockerTargets;
  shells: string[];
  /** exec user when there are no rules (unit tests) */
  user?: string | undefined;
  /** Who is on the other end, for the logs. */
  peerId: string;
  /** Who may resume the session: the enrolled console id, else the console's DTLS fingerprint. */
  owner: string;
  /** exec user, session limit, idle and maximum duration, resume grace period */
  rules?: SessionRules;
  audit?: AuditLog;
  who?: AuditPeer;
}

export interface OpenRequest {
  target: string;
  cols: number;
  rows: number;
}

export function newSessionId(): string {
  return randomBytes(12).toString('base64url');
}

/** The channel a session sends to, and how far it got on it. */
interface Attachment {
  channel: DataChannelPort;
  /** Output offset up to which frames went into this channel. */
  sent: number;
  /** Output offset up to which the console acknowledged parsing. */
  acked: number;
  offLow: Unsubscribe;
}

export class TtySession {
  readonly sessionId: string;
  readonly output = new OutputLog(RESUME_BUFFER_BYTES);
  private attachment: Attachment | undefined;
  private readingPaused = false;
  /** How many times reading paused for flow control; for logs and tests. */
  pauses = 0;
  private pumpTimer: NodeJS.Immediate | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  /** When the session last lost its channel (ms since the epoch); 0 while attached. */
  detachedAt = 0;
  private bytesIn = 0;
  private inputBytesReceived = 0;
  /** undefined while the process runs; its exit code (or null) once it ended */
  private exitCode: number | null | undefined;
  private ending = false;
  private disposing: Promise<void> | undefined;
  private readonly limits: SessionLimits;
  private readonly unsubscribe: Unsubscribe[] = [];
  /** Resolves once the session has ended and released everything. */
  readonly ended: Promise<void>;
  private markEnded!: () => void;

  private constructor(
    readonly target: ResolvedTarget,
    private readonly bridge: ExecBridge,
    private readonly hostVisible: boolean,
    readonly user: string | undefined,
    private readonly releaseSlot: (() => void) | undefined,
    private readonly recorder: SessionRecorder | undefined,
    private readonly options: TtySessionOptions,
    sessionId: string,
  ) {
    this.sessionId = sessionId;
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    const rules = options.rules?.config;
    this.limits = new SessionLimits(rules?.idleTimeoutMs ?? 0, rules?.maxSessionMs ?? 0, (code, message) => this.limitReached(code, message));
    const onData = (chunk: Buffer) => this.take(chunk);
    const onEnd = () => void this.exited();
    const onError = (cause: Error) => {
      log.warn('exec stream error', { sessionId: this.sessionId, error: describeError(cause) });
      void this.exited();
    };
    bridge.stream.on('data', onData);
    bridge.stream.once('end', onEnd);
    bridge.stream.once('error', onError);
    this.unsubscribe.push(() => {
      bridge.stream.off('data', onData);
      bridge.stream.off('end', onEnd);
      bridge.stream.off('error', onError);
    });
    this.limits.start();
    this.unsubscribe.push(addDebugFigures(`session:${sessionId}`, () => this.figures()));
  }

  /** Checks the target and the rules, then starts the exec: a running, detached session. */
  static async start(request: OpenRequest, options: TtySessionOptions): Promise<Result<TtySession>> {
    const sessionId = newSessionId();
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
    const session = new TtySession(target.value, bridge.value, hostVisible, user, releaseSlot, recorder, options, sessionId);
    options.audit?.record('session.start', {
      ...options.who, sessionId, container: target.value.name, containerId: target.value.id.slice(0, 12),
      user: user ?? null, shell: bridge.value.shell, ...(recorder ? { recording: recorder.path } : {}),
    });
    log.info('session opened', {
      sessionId, peer: options.peerId, container: target.value.name, containerId: target.value.id.slice(0, 12),
      shell: bridge.value.shell, cols: request.cols, rows: request.rows, kill: hostVisible ? 'host-proc' : 'container-exec',
    });
    return ok(session);
  }

  get shell(): string {
    return this.bridge.shell;
  }

  /** The exec's process id on the host; 0 when Docker did not say. */
  get hostPid(): number {
    return this.bridge.pid;
  }

  get owner(): string {
    return this.options.owner;
  }

  get graceMs(): number {
    return this.options.rules?.config.resumeGraceMs ?? 0;
  }

  get isAttached(): boolean {
    return this.attachment !== undefined;
  }

  /** Whether the session sends to `channel`: a channel a resume took over is not, even before it closes. */
  isAttachedTo(channel: DataChannelPort): boolean {
    return this.attachment?.channel === channel;
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
    const previous = this.attachment;
    if (previous) {
      this.release(previous);
      if (previous.channel !== channel && previous.channel.isOpen) previous.channel.close();
    }
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.detachedAt = 0;
    const from = resumed?.from ?? 0;
    const offLow = channel.onBufferedAmountLow(CHANNEL_BUFFER_LOW_BYTES, () => this.pump());
    this.attachment = { channel, sent: from, acked: from, offLow };
    if (resumed) {
      log.info('session resumed', { sessionId: this.sessionId, peer: this.options.peerId, from, lost: resumed.lost, end: this.output.end, tookOver: previous !== undefined });
      this.options.audit?.record('session.resume', { ...this.options.who, sessionId: this.sessionId, container: this.target.name, from, lost: resumed.lost });
    }
    this.pump();
  }

  /** `channel` is gone without `close`: keep running for the grace period, then end. */
  detach(channel: DataChannelPort, reason: string): void {
    const attachment = this.attachment;
    if (!attachment || attachment.channel !== channel || this.ending) return;
    this.release(attachment);
    this.attachment = undefined;
    this.detachedAt = Date.now();
    const grace = this.graceMs;
    if (grace <= 0) {
      void this.dispose(reason);
      return;
    }
    log.info('session detached', { sessionId: this.sessionId, peer: this.options.peerId, reason, graceMs: grace, sent: attachment.sent, acked: attachment.acked });
    this.options.audit?.record('session.detach', { ...this.options.who, sessionId: this.sessionId, container: this.target.name, reason, graceMs: grace });
    this.graceTimer = setTimeout(() => void this.dispose('resume grace period over'), grace);
    this.graceTimer.unref();
    this.updateReading();
  }

  /**
   * Input is written at once, whatever the output side is doing: Ctrl-C must never wait. False when
   * it was refused: more than MAX_PENDING_INPUT_BYTES wait for a shell that does not read.
   */
  input(bytes: Buffer): boolean {
    this.inputBytesReceived += bytes.length;
    if (this.ending || this.exitCode !== undefined) return true;
    if (bytes.length > MAX_ALWAYS_WRITTEN_INPUT_BYTES && this.bridge.stream.writableLength > MAX_PENDING_INPUT_BYTES) return false;
    this.limits.touch();
    this.bytesIn += bytes.length;
    this.bridge.stream.write(bytes);
    return true;
  }

  resize(cols: number, rows: number): void {
    if (this.ending || this.exitCode !== undefined) return;
    this.limits.touch();
    this.recorder?.resize(cols, rows);
    void this.bridge.resize(cols, rows);
  }

  /** The console has parsed `bytes` more bytes; an ack beyond what was sent is capped. */
  ack(channel: DataChannelPort, bytes: number): void {
    const attachment = this.attachment;
    if (!attachment || attachment.channel !== channel) return;
    attachment.acked = Math.min(attachment.acked + bytes, attachment.sent);
    this.pump();
  }

  private release(attachment: Attachment): void {
    attachment.offLow();
    if (this.pumpTimer) clearImmediate(this.pumpTimer);
    this.pumpTimer = undefined;
  }

  private take(chunk: Buffer): void {
    this.output.append(chunk);
    this.recorder?.output(chunk);
    const attachment = this.attachment;
    if (!attachment) return;
    // Coalesce: a full batch goes at once, a smaller remainder on the next turn of the loop.
    if (this.output.end - attachment.sent >= OUTPUT_BATCH_BYTES) this.pump();
    else {
      this.pumpTimer ??= setImmediate(() => {
        this.pumpTimer = undefined;
        this.pump();
      });
      this.updateReading();
    }
  }

  /** Sends what the attached channel lacks, within the watermarks; finishes after an exit. */
  private pump(): void {
    if (this.pumpTimer) clearImmediate(this.pumpTimer);
    this.pumpTimer = undefined;
    const attachment = this.attachment;
    if (!attachment || this.ending) return;
    const { channel } = attachment;
    while (attachment.sent < this.output.end) {
      if (attachment.sent - attachment.acked >= HIGH_WATERMARK_BYTES || channel.bufferedAmount > CHANNEL_BUFFER_HIGH_BYTES) break;
      const frame = this.output.read(attachment.sent, OUTPUT_BATCH_BYTES);
      if (!channel.send(frame)) break;
      attachment.sent += frame.length;
    }
    if (this.exitCode !== undefined && attachment.sent === this.output.end) {
      this.send({ type: 'exit', code: this.exitCode });
      void this.dispose('process exited', this.exitCode);
      return;
    }
    this.updateReading();
  }

  /**
   * Flow control at the source: while attached, stop reading the exec stream when too much is
   * unacknowledged or the channel's buffer is full. Detached, read on: the program carries on and
   * the log keeps the newest output.
   */
  private updateReading(): void {
    const attachment = this.attachment;
    const stream = this.bridge.stream;
    if (!attachment) {
      if (this.readingPaused) {
        this.readingPaused = false;
        stream.resume();
      }
      return;
    }
    const unacked = this.output.end - attachment.acked;
    const buffered = attachment.channel.bufferedAmount;
    if (!this.readingPaused && (unacked > HIGH_WATERMARK_BYTES || buffered > CHANNEL_BUFFER_HIGH_BYTES)) {
      this.readingPaused = true;
      this.pauses++;
      stream.pause();
    } else if (this.readingPaused && unacked < LOW_WATERMARK_BYTES && buffered <= CHANNEL_BUFFER_LOW_BYTES) {
      this.readingPaused = false;
      stream.resume();
    }
  }

  private send(message: AgentTtyMessage): void {
    this.attachment?.channel.send(encodeMessage(message));
  }

  private limitReached(code: ErrorCode, message: string): void {
    log.info('session limit reached', { sessionId: this.sessionId, code });
    const attachment = this.attachment;
    if (attachment) {
      // What the console lacks goes first, whatever the watermarks say: the session is over.
      while (attachment.sent < this.output.end) {
        const frame = this.output.read(attachment.sent, OUTPUT_BATCH_BYTES);
        if (!attachment.channel.send(frame)) break;
        attachment.sent += frame.length;
      }
    }
    this.send({ type: 'error', code, message, fatal: true });
    void this.dispose(code === 'IDLE_TIMEOUT' ? 'idle timeout' : 'maximum duration');
  }

  /** The process ended on its own: the console gets the rest of the output, then `exit`. */
  private async exited(): Promise<void> {
    if (this.exitCode !== undefined || this.ending) return;
    const code = await this.bridge.exitCode();
    if (this.ending) return;
    this.exitCode = code;
    log.debug('process exited', { sessionId: this.sessionId, code, attached: this.isAttached });
    // Detached, the session waits out its grace period so that a resume still gets the end.
    this.pump();
  }

  /** Ends the session: kills its processes, closes its channel, releases everything. Idempotent. */
  dispose(reason: string, exitCode: number | null = null): Promise<void> {
    this.disposing ??= (async () => {
      this.ending = true;
      this.limits.dispose();
      clearTimeout(this.graceTimer);
      for (const off of this.unsubscribe.splice(0)) off();
      const attachment = this.attachment;
      this.attachment = undefined;
      if (attachment) {
        this.release(attachment);
        if (attachment.channel.isOpen) closeWhenDrained(attachment.channel);
      }
      this.bridge.stream.destroy();
      const bridge = this.bridge;
      const method = await killSession(this.target.container, bridge.pid, this.sessionId, this.hostVisible, { user: this.user, resolvePid: () => bridge.currentPid() });
      log.debug('session processes killed', { sessionId: this.sessionId, method });
      await this.recorder?.close();
      this.releaseSlot?.();
      this.options.audit?.record('session.end', {
        ...this.options.who, sessionId: this.sessionId, container: this.target.name, reason, exitCode,
        bytesIn: this.bytesIn, bytesOut: this.output.end,
      });
      log.info('session closed', {
        sessionId: this.sessionId, peer: this.options.peerId, container: this.target.name, reason,
        exitCode, bytesIn: this.bytesIn, bytesOut: this.output.end, pauses: this.pauses,
      });
      this.markEnded();
    })();
    return this.disposing;
  }

  /** Input bytes written and not yet taken by Docker (at most MAX_PENDING_INPUT_BYTES and a frame); for tests and logs. */
  get pendingInput(): number {
    return this.bridge.stream.writableLength;
  }

  /** Input bytes that reached the session from any channel, written or refused: `opened.resumed.inputReceived`. */
  get inputReceived(): number {
    return this.inputBytesReceived;
  }

  /** What the debug stats show of this session: where its output is, and why it is not sent. */
  private figures(): Record<string, unknown> {
    return {
      ...this.flow, pauses: this.pauses, attached: this.isAttached, buffered: this.attachment?.channel.bufferedAmount,
      inputReceived: this.inputBytesReceived, pendingInput: this.pendingInput, readableFlowing: this.bridge.stream.readableFlowing,
    };
  }

  /** Output offsets of the attached channel; for tests and logs. */
  get flow(): { produced: number; sent: number; acked: number; paused: boolean } {
    return { produced: this.output.end, sent: this.attachment?.sent ?? 0, acked: this.attachment?.acked ?? 0, paused: this.readingPaused };
  }
}
