/**
 * One terminal: a `tty:` data channel bridged to one `docker exec`. Owns everything it opens
 * (exec stream, output pump, listeners, the processes in the container) and releases all of it
 * in `dispose`, whichever way the session ends: exit, `close`, channel closed, peer gone.
 */
import { randomBytes } from 'node:crypto';
import {
  encodeMessage,
  type AgentTtyMessage,
  parseConsoleTtyFrame,
  type ErrorCode,
  type OpenMessage,
  type ProtocolError,
  type Result,
} from '@tether/protocol';
import { closeWhenDrained, type DataChannelPort, type InboundFrame, type Unsubscribe } from './data-channel.js';
import { describeError } from './deadline.js';
import type { DockerTargets, ResolvedTarget } from './docker-targets.js';
import { startExec, type ExecBridge } from './exec-bridge.js';
import type { AuditLog, AuditPeer } from './audit.js';
import { createLogger } from './log.js';
import type { SessionRules } from './session-rules.js';
import { OutputPump } from './output-pump.js';
import { hostSeesProcess, killSession } from './session-killer.js';
import { SessionLimits } from './session-limits.js';
import { SessionRecorder } from './session-recorder.js';

const log = createLogger(import.meta.url);

export interface TtySessionOptions {
  targets: DockerTargets;
  shells: string[];
  user?: string | undefined;
  /** Who is on the other end, for the logs. */
  peerId: string;
  /** Resolves once the peer may open terminals (the data-channel binding checked); ok when absent. */
  authorize?: () => Promise<Result<void>>;
  /** exec user, session limit, idle and maximum duration; `user` above applies when absent */
  rules?: SessionRules;
  audit?: AuditLog;
  who?: AuditPeer;
}

type State = 'awaiting-open' | 'opening' | 'open' | 'ended';

export function newSessionId(): string {
  return randomBytes(12).toString('base64url');
}

export class TtySession {
  readonly sessionId = newSessionId();
  private state: State = 'awaiting-open';
  private target: ResolvedTarget | undefined;
  private bridge: ExecBridge | undefined;
  private pump: OutputPump | undefined;
  private hostVisible = false;
  private bytesIn = 0;
  private queuedInput: Buffer[] = [];
  private pendingSize: { cols: number; rows: number } | undefined;
  private readonly unsubscribe: Unsubscribe[] = [];
  private disposing: Promise<void> | undefined;
  private releaseSlot: (() => void) | undefined;
  private readonly limits: SessionLimits;
  private recorder: SessionRecorder | undefined;
  private user: string | undefined;
  /** Resolves once the session has ended and released everything. */
  readonly ended: Promise<void>;
  private markEnded!: () => void;

  constructor(
    private readonly channel: DataChannelPort,
    private readonly options: TtySessionOptions,
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    const rules = options.rules?.config;
    this.limits = new SessionLimits(rules?.idleTimeoutMs ?? 0, rules?.maxSessionMs ?? 0, (code, message) => this.limitReached(code, message));
    this.unsubscribe.push(channel.onMessage((frame) => this.receive(frame)));
    this.unsubscribe.push(channel.onClose(() => void this.dispose('channel closed')));
  }

  private send(message: AgentTtyMessage): void {
    this.channel.send(encodeMessage(message));
  }

  private sendError(code: ErrorCode, message: string, fatal = false): void {
    this.send({ type: 'error', code, message, ...(fatal ? { fatal: true } : {}) });
  }

  private fail(error: ProtocolError): void {
    log.info('open refused', { sessionId: this.sessionId, peer: this.options.peerId, code: error.code, reason: error.message });
    this.options.audit?.record('session.refused', { ...this.options.who, sessionId: this.sessionId, container: this.target?.name, code: error.code, reason: error.message });
    this.sendError(error.code, error.message, true);
    void this.dispose(`open failed: ${error.code}`);
  }

  private receive(frame: InboundFrame): void {
    if (this.state === 'ended') return;
    const parsed = parseConsoleTtyFrame(frame);
    if (!parsed.ok) {
      log.warn('bad frame dropped', { sessionId: this.sessionId, code: parsed.error.code, reason: parsed.error.message });
      this.sendError(parsed.error.code, parsed.error.message);
      return;
    }
    if (parsed.value.kind === 'bytes') {
      this.input(Buffer.from(parsed.value.bytes));
      return;
    }
    const message = parsed.value.message;
    switch (message.type) {
      case 'open':
        void this.open(message);
        return;
      case 'input':
        this.input(Buffer.from(message.data, 'utf8'));
        return;
      case 'resize':
        this.resize(message.cols, message.rows);
        return;
      case 'ack':
        if (this.pump) this.pump.ack(message.bytes);
        else this.sendError('NOT_OPEN', 'ack before the session opened');
        return;
      case 'close':
        void this.dispose('closed by the console');
        return;
      case 'ping':
        this.send({ type: 'pong', ...(message.id !== undefined ? { id: message.id } : {}) });
        return;
      case 'pong':
        return;
    }
  }

  /** Input is written at once, whatever the output side is doing: Ctrl-C must never wait. */
  private input(bytes: Buffer): void {
    this.limits.touch();
    if (this.state === 'open' && this.bridge) {
      this.bytesIn += bytes.length;
      this.bridge.stream.write(bytes);
    } else if (this.state === 'opening') {
      this.queuedInput.push(bytes);
    } else {
      this.sendError('NOT_OPEN', 'input before the session opened');
    }
  }

  private resize(cols: number, rows: number): void {
    if (this.state === 'open' && this.bridge) {
      this.limits.touch();
      this.recorder?.resize(cols, rows);
      void this.bridge.resize(cols, rows);
    } else if (this.state === 'opening') this.pendingSize = { cols, rows };
    else this.sendError('NOT_OPEN', 'resize before the session opened');
  }

  private async open(message: OpenMessage): Promise<void> {
    if (this.state !== 'awaiting-open') {
      this.sendError('ALREADY_OPEN', 'this channel already has a session');
      return;
    }
    this.state = 'opening';
    if (message.resume) {
      this.fail({ code: 'SESSION_NOT_FOUND', message: `Session ${message.resume.sessionId} cannot be resumed: this agent does not keep sessions yet.` });
      return;
    }
    if (this.options.authorize) {
      const allowed = await this.options.authorize();
      if (!allowed.ok) return this.fail(allowed.error);
      if (this.isEnded()) return;
    }
    const target = await this.options.targets.resolve(message.target);
    if (!target.ok) return this.fail(target.error);
    if (this.isEnded()) return;
    this.target = target.value;
    const rules = this.options.rules;
    this.user = rules ? rules.userFor(target.value.name, target.value.labels) : this.options.user;
    if (rules) {
      const slot = rules.acquire(target.value.id, target.value.name);
      if (!slot.ok) return this.fail(slot.error);
      this.releaseSlot = slot.value;
    }
    const bridge = await startExec(target.value, {
      shells: this.options.shells,
      cols: message.cols,
      rows: message.rows,
      env: [`TETHER_SESSION=${this.sessionId}`],
      user: this.user,
    });
    if (!bridge.ok) return this.fail(bridge.error);
    this.bridge = bridge.value;
    this.hostVisible = await hostSeesProcess(bridge.value.pid, this.sessionId);
    if (this.isEnded()) {
      // The channel went away while the exec started: the process must not outlive it.
      await this.release();
      return;
    }
    const recordDir = rules?.config.recordDir;
    if (recordDir) {
      this.recorder = SessionRecorder.start(recordDir, { sessionId: this.sessionId, container: target.value.name, shell: bridge.value.shell, cols: message.cols, rows: message.rows });
    }
    this.attach(bridge.value);
    this.state = 'open';
    this.send({ type: 'opened', sessionId: this.sessionId, target: { id: target.value.id.slice(0, 12), name: target.value.name }, shell: bridge.value.shell });
    this.limits.start();
    this.options.audit?.record('session.start', {
      ...this.options.who, sessionId: this.sessionId, container: target.value.name, containerId: target.value.id.slice(0, 12),
      user: this.user ?? null, shell: bridge.value.shell, ...(this.recorder ? { recording: this.recorder.path } : {}),
    });
    log.info('session opened', {
      sessionId: this.sessionId, peer: this.options.peerId, container: target.value.name,
      containerId: target.value.id.slice(0, 12), shell: bridge.value.shell, cols: message.cols, rows: message.rows,
      kill: this.hostVisible ? 'host-proc' : 'container-exec',
    });
    for (const bytes of this.queuedInput) this.input(bytes);
    this.queuedInput = [];
    if (this.pendingSize) this.resize(this.pendingSize.cols, this.pendingSize.rows);
  }

  private limitReached(code: ErrorCode, message: string): void {
    log.info('session limit reached', { sessionId: this.sessionId, code });
    this.pump?.flush();
    this.sendError(code, message, true);
    void this.dispose(code === 'IDLE_TIMEOUT' ? 'idle timeout' : 'maximum duration');
  }

  private isEnded(): boolean {
    return (this.state as State) === 'ended';
  }

  private attach(bridge: ExecBridge): void {
    this.pump = new OutputPump(bridge.stream, this.channel, (frame) => this.recorder?.output(frame));
    const onEnd = () => void this.exited();
    const onError = (cause: Error) => {
      log.warn('exec stream error', { sessionId: this.sessionId, error: describeError(cause) });
      void this.exited();
    };
    bridge.stream.once('end', onEnd);
    bridge.stream.once('error', onError);
    this.unsubscribe.push(() => {
      bridge.stream.off('end', onEnd);
      bridge.stream.off('error', onError);
    });
  }

  /** The process ended on its own: flush, report the code, then close. */
  private async exited(): Promise<void> {
    if (this.state !== 'open' || !this.bridge) return;
    this.pump?.flush();
    const code = await this.bridge.exitCode();
    if (this.state !== 'open') return;
    this.send({ type: 'exit', code });
    await this.dispose('process exited', code);
  }

  /** Ends the session: kills its processes, closes its channel, releases everything. Idempotent. */
  dispose(reason: string, exitCode: number | null = null): Promise<void> {
    this.disposing ??= (async () => {
      const wasOpen = this.state === 'open';
      this.state = 'ended';
      this.limits.dispose();
      for (const off of this.unsubscribe.splice(0)) off();
      if (this.channel.isOpen) closeWhenDrained(this.channel);
      await this.release();
      await this.recorder?.close();
      this.releaseSlot?.();
      if (wasOpen) {
        this.options.audit?.record('session.end', {
          ...this.options.who, sessionId: this.sessionId, container: this.target?.name, reason, exitCode,
          bytesIn: this.bytesIn, bytesOut: this.pump?.sent ?? 0,
        });
        log.info('session closed', {
          sessionId: this.sessionId, peer: this.options.peerId, container: this.target?.name, reason,
          exitCode, bytesIn: this.bytesIn, bytesOut: this.pump?.sent ?? 0, pauses: this.pump?.pauses ?? 0,
        });
      }
      this.markEnded();
    })();
    return this.disposing;
  }

  private async release(): Promise<void> {
    this.pump?.dispose();
    const bridge = this.bridge;
    const target = this.target;
    if (!bridge || !target) return;
    bridge.stream.destroy();
    const method = await killSession(target.container, bridge.pid, this.sessionId, this.hostVisible, { user: this.user, resolvePid: () => bridge.currentPid() });
    log.debug('session processes killed', { sessionId: this.sessionId, method });
  }

  /** Bytes sent and acknowledged; for tests and logs. */
  get flow(): { sent: number; acked: number; paused: boolean } {
    return { sent: this.pump?.sent ?? 0, acked: this.pump?.acked ?? 0, paused: this.pump?.isPaused ?? false };
  }
}
