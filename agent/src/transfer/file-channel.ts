/**
 * One `file:` data channel: one transfer (or one listing) in the container of one of this
 * console's sessions (protocol/README.md, "File transfers"). It parses what the console sends,
 * waits for the peer to be authorized, finds the session (the console's own), applies the agent's
 * rules and the path rules, then hands the bytes to an UploadReceiver or a DownloadSender. Every
 * transfer, refused or run, ends in exactly one `transfer` audit record.
 */
import { randomBytes } from 'node:crypto';
import {
  encodeMessage,
  MAX_FRAME_BYTES,
  parseConsoleFileFrame,
  protocolError,
  TRANSFER_IDLE_TIMEOUT_MS,
  type AgentFileMessage,
  type DownloadOffer,
  type ListMessage,
  type ProtocolError,
  type Result,
  type TransferOffer,
  type UploadOffer,
} from '@tether/protocol';
import type { AuditLog, AuditPeer } from '../audit.js';
import { answerError, closeWhenDrained, type DataChannelPort, type InboundFrame, type Unsubscribe } from '../data-channel.js';
import { createLogger } from '../log.js';
import type { SessionRegistry } from '../session-registry.js';
import type { TtySession } from '../tty-session.js';
import { joinPath, listDirectory, shellCwd, startDownload, type FileSession } from './container-files.js';
import { DownloadSender } from './download.js';
import type { TransferRules } from './transfer-rules.js';
import { checkFileName, isAbsolute, resolvePath, splitPath } from './transfer-paths.js';
import { UploadReceiver } from './upload.js';

const log = createLogger(import.meta.url);

/** How a transfer ended, for the audit log and the console. */
export interface TransferOutcome {
  result: 'ok' | 'refused' | 'cancelled' | 'interrupted' | 'failed';
  bytes: number;
  sha256?: string | undefined;
  path?: string | undefined;
  /** refused or failed: why; sent to the console as a fatal error */
  error?: ProtocolError | undefined;
  /** cancelled or interrupted: why */
  reason?: string | undefined;
}

/** What an upload or a download needs of its channel. */
export interface TransferLink {
  readonly port: DataChannelPort;
  send(message: AgentFileMessage): void;
  /** The transfer is over: audited, the console told when it failed, the channel closed. */
  end(outcome: TransferOutcome): void;
}

export interface FileChannelOptions {
  registry: SessionRegistry;
  /** absent: every transfer is refused (TRANSFER_NOT_ALLOWED) */
  rules: TransferRules | undefined;
  audit?: AuditLog | undefined;
  who?: AuditPeer | undefined;
  /** who may use a session: the same string its `owner` holds (peer.ts `sessionOwner`) */
  owner: string;
  peerId: string;
  /** Resolves once the peer may be served (its DTLS certificate and binding checked). */
  authorize?: () => Promise<Result<void>>;
}

type State = 'awaiting' | 'starting' | 'running' | 'done';

/** Where a transfer runs once its checks passed. */
interface Place {
  session: TtySession;
  files: FileSession;
}

export class AgentFileChannel {
  readonly transferId = randomBytes(12).toString('base64url');
  private state: State = 'awaiting';
  private offer: TransferOffer | undefined;
  private place: Place | undefined;
  private upload: UploadReceiver | undefined;
  private download: DownloadSender | undefined;
  private cancelledWhileStarting: string | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: Unsubscribe[] = [];
  /** Resolves once the channel is done with: its transfer ended and was audited, or it closed. */
  readonly done: Promise<void>;
  private markDone!: () => void;
  private ended: Promise<void> | undefined;
  /** the offer's or the listing's checks and start, while they run */
  private starting: Promise<void> | undefined;

  constructor(
    private readonly channel: DataChannelPort,
    private readonly options: FileChannelOptions,
  ) {
    this.done = new Promise((resolve) => (this.markDone = resolve));
    this.unsubscribe.push(channel.onMessage((frame) => this.receive(frame)));
    this.unsubscribe.push(channel.onClose(() => void this.gone('the channel closed')));
  }

  /**
   * The channel is gone, or its peer connection ends: a running transfer is interrupted (nothing
   * kept under an upload's final name). Resolves once the transfer's cleanup is done.
   */
  async gone(reason: string): Promise<void> {
    if (this.state === 'starting') {
      this.cancelledWhileStarting = reason;
      await this.starting;
    }
    if (this.state === 'running') await (this.upload ?? this.download)?.abort('interrupted', reason);
    else if (this.state === 'awaiting') this.finish();
    await this.ended;
  }

  private send(message: AgentFileMessage): void {
    this.channel.send(encodeMessage(message));
  }

  private receive(frame: InboundFrame): void {
    if (this.state === 'done') return;
    this.armIdleTimer();
    const parsed = parseConsoleFileFrame(frame);
    if (!parsed.ok) {
      log.warn('bad frame dropped', {
        peer: this.options.peerId,
        transferId: this.transferId,
        code: parsed.error.code,
        reason: parsed.error.message,
      });
      answerError(this.channel, parsed.error.code, parsed.error.message);
      return;
    }
    if (parsed.value.kind === 'bytes') {
      if (this.state === 'running' && this.upload) this.upload.data(Buffer.from(parsed.value.bytes));
      else this.violation(this.state === 'running' ? 'a download takes no bytes from the console' : 'bytes before `accept`');
      return;
    }
    const message = parsed.value.message;
    switch (message.type) {
      case 'offer':
      case 'list':
        if (this.state !== 'awaiting') return answerError(this.channel, 'BAD_MESSAGE', 'one offer or list per channel');
        this.starting = message.type === 'list' ? this.list(message) : this.start(message);
        return;
      case 'ack':
        if (this.state === 'running' && this.download) this.download.ack(message.bytes);
        else answerError(this.channel, 'BAD_MESSAGE', '`ack` is for a running download');
        return;
      case 'done':
        if (this.state === 'running' && this.upload) void this.upload.done(message);
        else if (this.state === 'running' && this.download) this.download.confirmed(message);
        else answerError(this.channel, 'BAD_MESSAGE', '`done` before the transfer runs');
        return;
      case 'cancel': {
        const reason = `cancelled by the console${message.reason ? `: ${message.reason}` : ''}`;
        if (this.state === 'running') void (this.upload ?? this.download)?.abort('cancelled', reason);
        else if (this.state === 'starting') this.cancelledWhileStarting = reason;
        else {
          this.finish();
          closeWhenDrained(this.channel);
        }
        return;
      }
    }
  }

  /** A frame that breaks the transfer's rules: the transfer fails, the channel closes. */
  private violation(message: string): void {
    const error = protocolError('BAD_MESSAGE', message);
    if (this.state === 'running') {
      void (this.upload ?? this.download)?.fail(error);
      return;
    }
    answerError(this.channel, error.code, error.message, true);
    if (this.state === 'awaiting') {
      this.finish();
      closeWhenDrained(this.channel);
    } else this.cancelledWhileStarting = message;
  }

  /** The checks every transfer and listing passes: the peer, the agent, the session and its rules. */
  private async checkSession(sessionId: string): Promise<Result<Place & { allowance: ReturnType<TransferRules['allowanceFor']> }>> {
    if (this.options.authorize) {
      const allowed = await this.options.authorize();
      if (!allowed.ok) return allowed;
    }
    const refusal = this.options.registry.refusal;
    if (refusal) return { ok: false, error: refusal };
    const session = this.options.registry.get(sessionId);
    if (!session)
      return {
        ok: false,
        error: protocolError(
          'SESSION_NOT_FOUND',
          `Session ${sessionId} is not on this agent (it ended, or the agent restarted): files move only within a live session.`,
        ),
      };
    if (session.owner !== this.options.owner)
      return { ok: false, error: protocolError('SESSION_FORBIDDEN', `Session ${sessionId} belongs to another console.`) };
    // The shell's working directory is read through its host pid, known once it runs.
    const running = await session.running;
    if (!running.ok) return running;
    const files: FileSession = {
      container: session.target.container,
      user: session.user,
      sessionId: session.sessionId,
      hostPid: session.hostPid,
    };
    this.place = { session, files };
    const rules = this.options.rules;
    const allowance = rules?.allowanceFor(session.target.name, session.target.labels) ?? {
      mode: 'off' as const,
      upload: false,
      download: false,
      maxBytes: 0,
    };
    if (!allowance.download)
      return {
        ok: false,
        error: protocolError('TRANSFER_NOT_ALLOWED', `The agent's rules allow no file transfers in ${session.target.name}.`),
      };
    return { ok: true, value: { session, files, allowance } };
  }

  /** The shell's working directory when `path` is relative or absent; `path` resolved against it. */
  private async resolve(files: FileSession, path: string | undefined): Promise<Result<string>> {
    if (path !== undefined && isAbsolute(path)) return resolvePath('/', path);
    const cwd = await shellCwd(files, this.transferId);
    if (!cwd.ok) return cwd;
    return path === undefined ? { ok: true, value: cwd.value } : resolvePath(cwd.value, path);
  }

  private async start(offer: TransferOffer): Promise<void> {
    this.state = 'starting';
    this.offer = offer;
    const checked = await this.checkSession(offer.sessionId);
    if (!checked.ok) return this.refuse(checked.error);
    const { session, files, allowance } = checked.value;
    if (offer.direction === 'upload' && !allowance.upload) {
      return this.refuse(protocolError('TRANSFER_NOT_ALLOWED', `The agent's rules allow downloads only in ${session.target.name}.`));
    }
    if (offer.direction === 'upload' && allowance.maxBytes > 0 && offer.size > allowance.maxBytes) {
      return this.refuse(
        protocolError(
          'FILE_TOO_LARGE',
          `${offer.size} bytes is over the agent's limit of ${allowance.maxBytes} bytes for ${session.target.name}.`,
        ),
      );
    }
    const audit = this.options.audit;
    if (audit && !audit.acceptsSessions) {
      return this.refuse(
        protocolError(
          'AUDIT_UNAVAILABLE',
          `The agent cannot write its audit log (since ${audit.unavailableSince ?? 'now'}), and it moves no file it cannot audit.`,
        ),
      );
    }
    const started =
      offer.direction === 'upload' ? await this.startUpload(offer, files) : await this.startDownload(offer, files, allowance.maxBytes);
    if (!started.ok) return this.refuse(started.error);
    this.state = 'running';
    if (this.cancelledWhileStarting !== undefined || !this.channel.isOpen) {
      await (this.upload ?? this.download)?.abort(
        'cancelled',
        this.cancelledWhileStarting ?? 'the channel closed while the transfer started',
      );
      return;
    }
    this.send(started.value);
    this.download?.start();
    this.armIdleTimer();
    log.info('transfer started', {
      transferId: this.transferId,
      peer: this.options.peerId,
      sessionId: session.sessionId,
      container: session.target.name,
      direction: offer.direction,
      path: started.value.path,
    });
  }

  private async startUpload(offer: UploadOffer, files: FileSession): Promise<Result<AgentFileMessage & { type: 'accept' }>> {
    const name = checkFileName(offer.name);
    if (!name.ok) return name;
    const dir = await this.resolve(files, offer.dir);
    if (!dir.ok) return dir;
    this.pathForAudit = joinPath(dir.value, offer.name);
    const link = this.link();
    const upload = await UploadReceiver.start(link, files, {
      transferId: this.transferId,
      dir: dir.value,
      name: name.value,
      size: offer.size,
      overwrite: offer.overwrite,
    });
    if (!upload.ok) return upload;
    this.upload = upload.value;
    this.pathForAudit = upload.value.path;
    return { ok: true, value: { type: 'accept', path: upload.value.path } };
  }

  private async startDownload(
    offer: DownloadOffer,
    files: FileSession,
    maxBytes: number,
  ): Promise<Result<AgentFileMessage & { type: 'accept' }>> {
    const path = await this.resolve(files, offer.path);
    if (!path.ok) return path;
    this.pathForAudit = path.value;
    const source = await startDownload(files, this.transferId, path.value);
    if (!source.ok) return source;
    if (maxBytes > 0 && source.value.size !== null && source.value.size > maxBytes) {
      await source.value.command.kill();
      return {
        ok: false,
        error: protocolError(
          'FILE_TOO_LARGE',
          `${path.value} (${source.value.size} bytes) is over the agent's limit of ${maxBytes} bytes for this container.`,
        ),
      };
    }
    this.download = new DownloadSender(this.link(), source.value, path.value, maxBytes);
    const base = source.value.directoryName ?? splitPath(path.value).base;
    const name = base === '.' || base === '' ? 'root' : base;
    return {
      ok: true,
      value: {
        type: 'accept',
        path: path.value,
        kind: source.value.kind,
        size: source.value.size,
        name: source.value.kind === 'directory' ? `${name}.tar` : name,
      },
    };
  }

  private pathForAudit: string | undefined;

  private link(): TransferLink {
    return {
      port: this.channel,
      send: (message) => this.send(message),
      end: (outcome) => void this.end(outcome),
    };
  }

  private refuse(error: ProtocolError): Promise<void> {
    return this.end({ result: 'refused', bytes: 0, path: this.pathForAudit, error });
  }

  /** Audits the transfer once, tells the console how it failed, and closes the channel. */
  private end(outcome: TransferOutcome): Promise<void> {
    this.ended ??= (async () => {
      const offer = this.offer;
      const place = this.place;
      const fields = {
        ...this.options.who,
        transferId: this.transferId,
        sessionId: offer?.sessionId,
        container: place?.session.target.name,
        user: place?.files.user ?? null,
        direction: offer?.direction,
        path: outcome.path ?? this.pathForAudit ?? (offer?.direction === 'download' ? offer.path : offer?.name),
        ...(offer?.direction === 'upload' ? { size: offer.size } : {}),
        bytes: outcome.bytes,
        ...(outcome.sha256 ? { sha256: outcome.sha256 } : {}),
        result: outcome.result,
        ...(outcome.error ? { code: outcome.error.code, reason: outcome.error.message } : {}),
        ...(outcome.reason ? { reason: outcome.reason } : {}),
      };
      this.options.audit?.record('transfer', fields);
      log.info('transfer ended', fields);
      if (outcome.error) answerError(this.channel, outcome.error.code, outcome.error.message, true);
      else if (outcome.result === 'cancelled' && !outcome.reason?.startsWith('cancelled by the console'))
        this.send({ type: 'cancel', reason: (outcome.reason ?? '').slice(0, 256) });
      this.finish();
      if (this.channel.isOpen) closeWhenDrained(this.channel);
    })();
    return this.ended;
  }

  private async list(message: ListMessage): Promise<void> {
    this.state = 'starting';
    const fail = (error: ProtocolError) => {
      answerError(this.channel, error.code, error.message, true);
      this.finish();
      if (this.channel.isOpen) closeWhenDrained(this.channel);
    };
    const checked = await this.checkSession(message.sessionId);
    if (!checked.ok) return fail(checked.error);
    const { files, allowance } = checked.value;
    // The working directory is needed for a relative path; for an absolute one it is only reported.
    const cwd = await shellCwd(files, this.transferId);
    const absolute = message.path !== undefined && isAbsolute(message.path);
    if (!cwd.ok && !absolute) return fail(cwd.error);
    const dir = absolute
      ? resolvePath('/', message.path!)
      : message.path === undefined
        ? cwd
        : resolvePath(cwd.ok ? cwd.value : '/', message.path!);
    if (!dir.ok) return fail(dir.error);
    const listing = await listDirectory(files, this.transferId, dir.value);
    if (!listing.ok) return fail(listing.error);
    const prefix = message.prefix ?? '';
    const matching = listing.value.entries
      .filter((e) => e.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const allowed = { upload: allowance.upload, download: allowance.download, maxBytes: allowance.maxBytes };
    const base = { type: 'listing' as const, path: listing.value.path, ...(cwd.ok ? { cwd: cwd.value } : {}), allowed };
    // One frame: as many entries as fit, in name order.
    let size = Buffer.byteLength(encodeMessage({ ...base, entries: [], truncated: true }));
    let count = 0;
    for (const entry of matching) {
      const more = Buffer.byteLength(JSON.stringify(entry)) + 1;
      if (size + more > MAX_FRAME_BYTES || count >= 4096) break;
      size += more;
      count++;
    }
    if (this.state !== 'starting') return;
    this.send({ ...base, entries: matching.slice(0, count), truncated: count < matching.length || listing.value.cut });
    this.finish();
    closeWhenDrained(this.channel);
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.state !== 'running') return;
    this.idleTimer = setTimeout(() => {
      if ((this.state as State) !== 'running') return;
      const transfer = this.upload ?? this.download;
      if (transfer?.waitingOnConsole) void transfer.abort('cancelled', `nothing from the console for ${TRANSFER_IDLE_TIMEOUT_MS / 1000} s`);
      else this.armIdleTimer();
    }, TRANSFER_IDLE_TIMEOUT_MS);
    this.idleTimer.unref();
  }

  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    clearTimeout(this.idleTimer);
    for (const off of this.unsubscribe.splice(0)) off();
    this.markDone();
  }
}
