/**
 * The agent's end of a download: the container's `cat` (or `tar`) output goes to the console in
 * binary frames of at most TRANSFER_CHUNK_BYTES, hashed on the way, under the same two rules as
 * terminal output: reading stops while TRANSFER_WINDOW_BYTES are unacknowledged or while the
 * channel's own buffer is above TRANSFER_BUFFER_HIGH_BYTES (lower than a terminal's, so that
 * terminal output does not wait behind it in werift's one send queue), and goes on once neither
 * holds. Once
 * the command has ended, `done` carries the byte count and SHA-256, and the console answers with
 * its own.
 */
import { createHash } from 'node:crypto';
import {
  protocolError,
  TRANSFER_BUFFER_HIGH_BYTES,
  TRANSFER_BUFFER_LOW_BYTES,
  TRANSFER_CHUNK_BYTES,
  TRANSFER_WINDOW_BYTES,
  type DoneMessage,
  type ProtocolError,
} from '@tether/protocol';
import type { Unsubscribe } from '../data-channel.js';
import { commandError } from './container-command.js';
import { DONE, type DownloadSource } from './container-files.js';
import type { TransferLink } from './file-channel.js';

export class DownloadSender {
  private readonly hash = createHash('sha256');
  private sent = 0;
  private acked = 0;
  /** the command's output starts paused (container-files.ts `startDownload`) */
  private paused = true;
  private pendingChunks: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private ending = false;
  /** set once `done` was sent: the console's answer is awaited */
  private digest: string | undefined;
  /** the command's exit code, once it ended well; `done` follows once everything pending is sent */
  private exitCode: number | undefined;
  /** the command said it wrote its last byte (DONE on stderr): what is left is read without pausing */
  private produced = false;
  private stderrSeen = '';
  /** `start` was called: the held bytes went first */
  private started = false;
  private readonly unsubscribe: Unsubscribe;

  constructor(
    private readonly link: TransferLink,
    private readonly source: DownloadSource,
    private readonly path: string,
    /** bytes; 0: no limit */
    private readonly maxBytes: number,
  ) {
    this.unsubscribe = link.port.onBufferedAmountLow(TRANSFER_BUFFER_LOW_BYTES, () => {
      this.flush();
      this.updateReading();
      if (this.exitCode !== undefined) this.finishIfSent();
    });
    source.command.onStdout((chunk) => this.take(chunk));
    source.command.onStderr((text) => this.takeStderr(text));
    this.takeStderr(source.heldStderr());
    void source.command.exited().then((exit) => {
      if (this.ending) return;
      if (exit.code !== 0) return void this.fail(commandError(exit, 'read', { file: path }));
      const read = this.sent + this.pendingBytes;
      if (!this.produced) {
        return void this.fail(
          protocolError('TRANSFER_FAILED', `The container's output of ${path} ended after ${read} bytes, before its command had finished.`),
        );
      }
      if (source.kind === 'file' && source.size !== null && read !== source.size) {
        return void this.fail(
          protocolError(
            'TRANSFER_FAILED',
            `The container delivered ${read} bytes of ${path}, whose size was ${source.size} when the download began (a short read, or the file changed meanwhile); the download is not intact.`,
          ),
        );
      }
      this.exitCode = exit.code;
      this.flush();
      this.finishIfSent();
    });
  }

  /**
   * The command wrote its last byte: what the Docker engine still holds of its output (a few MiB at
   * most) is read without pausing, and its stdin is ended so that it exits. The engine drops what
   * it holds of an exec's output 2 seconds after the process exits: reading must not be paused then.
   */
  private takeStderr(text: string): void {
    if (this.produced) return;
    this.stderrSeen = (this.stderrSeen + text).slice(-4096);
    if (!this.stderrSeen.includes(`${DONE} `)) return;
    this.produced = true;
    this.stderrSeen = '';
    if (this.started) this.readTheRest();
  }

  private readTheRest(): void {
    if (this.ending) return;
    this.paused = false;
    this.source.command.resume();
    this.source.command.endInput();
  }

  /** The command ended and every byte has been sent: `done`, with the count and SHA-256. */
  private finishIfSent(): void {
    if (this.ending || this.digest !== undefined || this.pendingBytes > 0) return;
    this.digest = this.hash.digest('hex');
    this.link.send({ type: 'done', bytes: this.sent, sha256: this.digest });
  }

  /** Starts sending: the bytes that came with the command's prelude first, then the rest as credit allows. */
  start(): void {
    this.started = true;
    for (const chunk of this.source.held.splice(0)) this.take(chunk);
    if (this.produced) this.readTheRest();
    else this.updateReading();
  }

  get bytes(): number {
    return this.sent;
  }

  /** The console consumed `bytes` more bytes: what waited for credit goes, and reading goes on. */
  ack(bytes: number): void {
    this.acked = Math.min(this.sent, this.acked + bytes);
    this.flush();
    this.updateReading();
    if (this.exitCode !== undefined) this.finishIfSent();
  }

  /** The console's answer to `done`: the download is over, intact or not. */
  confirmed(message: DoneMessage): void {
    if (this.ending) return;
    if (this.digest === undefined) return void this.fail(protocolError('BAD_MESSAGE', '`done` before the agent sent everything'));
    this.ending = true;
    this.unsubscribe();
    if (message.bytes !== this.sent || message.sha256 !== this.digest) {
      const error = protocolError(
        'DIGEST_MISMATCH',
        `The console received ${message.bytes} bytes with SHA-256 ${message.sha256}; the agent sent ${this.sent} with ${this.digest}.`,
      );
      this.link.end({ result: 'failed', bytes: this.sent, sha256: this.digest, path: this.path, error });
      return;
    }
    this.link.end({ result: 'ok', bytes: this.sent, sha256: this.digest, path: this.path });
  }

  /** Ends the download: cancelled, interrupted, or the agent stops. */
  async abort(result: 'cancelled' | 'interrupted', reason: string): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.unsubscribe();
    await this.source.command.kill();
    this.link.end({ result, bytes: this.sent, ...(this.digest ? { sha256: this.digest } : {}), path: this.path, reason });
  }

  private take(chunk: Buffer): void {
    if (this.ending) return;
    if (this.maxBytes > 0 && this.sent + this.pendingBytes + chunk.length > this.maxBytes) {
      void this.fail(
        protocolError('FILE_TOO_LARGE', `${this.path} is over the agent's limit of ${this.maxBytes} bytes for this container.`),
      );
      return;
    }
    this.pendingChunks.push(chunk);
    this.pendingBytes += chunk.length;
    // Full frames go at once; a remainder waits a tick for more, so that frames stay large.
    if (this.pendingBytes >= TRANSFER_CHUNK_BYTES) this.flush(true);
    if (this.pendingBytes > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    this.updateReading();
  }

  /**
   * Sends what is pending, as far as the credit goes (never more than the window unacknowledged,
   * whatever the command still delivered after reading stopped) and while the channel's buffer is
   * at most TRANSFER_BUFFER_HIGH_BYTES; with `fullOnly`, whole frames only.
   */
  private flush(fullOnly = false): void {
    if (this.ending || this.pendingBytes === 0) return;
    let all = Buffer.concat(this.pendingChunks, this.pendingBytes);
    for (;;) {
      const credit = this.acked + TRANSFER_WINDOW_BYTES - this.sent;
      const size = Math.min(TRANSFER_CHUNK_BYTES, credit, all.length);
      if (size <= 0 || (fullOnly && size < TRANSFER_CHUNK_BYTES) || this.link.port.bufferedAmount > TRANSFER_BUFFER_HIGH_BYTES) break;
      const frame = all.subarray(0, size);
      all = all.subarray(frame.length);
      this.hash.update(frame);
      this.sent += frame.length;
      if (!this.link.port.send(frame)) return void this.fail(protocolError('TRANSFER_FAILED', 'the channel refused a frame (closed?)'));
    }
    this.pendingChunks = all.length > 0 ? [all] : [];
    this.pendingBytes = all.length;
  }

  /** Reading stops while either rule holds (credit, channel buffer) and goes on once neither does. */
  private updateReading(): void {
    if (this.ending || this.produced) return;
    const overWindow = this.sent + this.pendingBytes - this.acked >= TRANSFER_WINDOW_BYTES;
    const overBuffer = this.link.port.bufferedAmount > TRANSFER_BUFFER_HIGH_BYTES;
    const pause = overWindow || overBuffer;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) this.source.command.pause();
    else this.source.command.resume();
  }

  /** Whether the agent waits on the console: for acks (the window is full), or for its `done`. */
  get waitingOnConsole(): boolean {
    return this.digest !== undefined || this.sent + this.pendingBytes - this.acked >= TRANSFER_WINDOW_BYTES;
  }

  /** Ends the download with `error` (told to the console). */
  async fail(error: ProtocolError): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.unsubscribe();
    await this.source.command.kill();
    this.link.end({ result: 'failed', bytes: this.sent, path: this.path, error });
  }
}
