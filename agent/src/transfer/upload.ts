/**
 * The agent's end of an upload: the console's bytes go to `cat` writing the temporary file, each
 * acknowledged once handed to the Docker engine (credit: at most TRANSFER_WINDOW_BYTES in flight),
 * hashed on the way; on the console's `done` the byte count and the SHA-256 must match before the
 * file is renamed to its name. Any other end removes the temporary file.
 */
import { createHash } from 'node:crypto';
import {
  ok,
  protocolError,
  TRANSFER_ACK_BYTES,
  TRANSFER_WINDOW_LIMIT_BYTES,
  type DoneMessage,
  type ProtocolError,
  type Result,
} from '@tether/protocol';
import { commandError } from './container-command.js';
import { commitUpload, joinPath, removeTemp, startUpload, type FileSession, type UploadTarget } from './container-files.js';
import type { TransferLink } from './file-channel.js';

export interface UploadRequest {
  transferId: string;
  dir: string;
  name: string;
  size: number;
  overwrite: boolean;
}

export class UploadReceiver {
  private readonly hash = createHash('sha256');
  private received = 0;
  private consumed = 0;
  private acked = 0;
  private ending = false;
  private finishing = false;

  private constructor(
    private readonly link: TransferLink,
    private readonly session: FileSession,
    private readonly request: UploadRequest,
    private readonly target: UploadTarget,
  ) {
    // `cat` ending before `done` has failed (a full disk, a killed process): the upload is over.
    void target.command.exited().then((exit) => {
      if (this.ending || this.finishing) return;
      void this.fail(commandError(exit, 'write', { dir: this.target.dir, file: this.path }));
    });
  }

  /** Creates the temporary file as the session's user; the receiver once it exists. */
  static async start(link: TransferLink, session: FileSession, request: UploadRequest): Promise<Result<UploadReceiver>> {
    const target = await startUpload(session, request.transferId, request.dir, request.name, request.overwrite);
    if (!target.ok) return target;
    return ok(new UploadReceiver(link, session, request, target.value));
  }

  /** The file's final path (the directory resolved by the container). */
  get path(): string {
    return joinPath(this.target.dir, this.request.name);
  }

  get bytes(): number {
    return this.received;
  }

  /** Bytes from the console: within the offer's size and the window, else the upload fails. */
  data(bytes: Buffer): void {
    if (this.ending || this.finishing) return;
    if (this.received + bytes.length > this.request.size) {
      void this.fail(protocolError('BAD_MESSAGE', `more bytes than the ${this.request.size} offered`));
      return;
    }
    if (this.received + bytes.length - this.acked > TRANSFER_WINDOW_LIMIT_BYTES) {
      void this.fail(protocolError('BAD_MESSAGE', `bytes beyond the window: at most ${TRANSFER_WINDOW_LIMIT_BYTES} unacknowledged`));
      return;
    }
    this.received += bytes.length;
    this.hash.update(bytes);
    this.target.command.write(bytes, (error) => {
      if (error || this.ending) return;
      this.consumed += bytes.length;
      if (this.consumed - this.acked >= TRANSFER_ACK_BYTES || this.consumed === this.request.size) this.ack();
    });
  }

  /** The console sent everything: check, finish the file, rename it. */
  async done(message: DoneMessage): Promise<void> {
    if (this.ending || this.finishing) return;
    this.finishing = true;
    const sha256 = this.hash.digest('hex');
    if (message.bytes !== this.received || this.received !== this.request.size || message.sha256 !== sha256) {
      const detail =
        message.bytes !== this.received || this.received !== this.request.size
          ? `the console sent ${message.bytes} bytes, ${this.received} arrived, ${this.request.size} were offered`
          : `the console's SHA-256 is ${message.sha256}, the agent's ${sha256}`;
      this.finishing = false;
      await this.fail(protocolError('DIGEST_MISMATCH', `The upload did not arrive intact (${detail}); it was not kept.`), sha256);
      return;
    }
    this.target.command.endInput();
    const exit = await this.target.command.exited();
    if (this.ending) return;
    if (exit.code !== 0) {
      this.finishing = false;
      await this.fail(commandError(exit, 'write', { dir: this.target.dir, file: this.path }), sha256);
      return;
    }
    const committed = await commitUpload(
      this.session,
      this.request.transferId,
      this.target,
      this.request.name,
      this.request.overwrite,
      this.request.size,
    );
    if (this.ending) return;
    if (!committed.ok) {
      this.ending = true;
      this.link.end({ result: 'failed', bytes: this.received, sha256, path: this.path, error: committed.error });
      return;
    }
    this.ending = true;
    this.link.send({ type: 'done', bytes: this.received, sha256, path: this.path });
    this.link.end({ result: 'ok', bytes: this.received, sha256, path: this.path });
  }

  /** Ends the upload without keeping anything: cancelled, interrupted, or the agent stops. */
  async abort(result: 'cancelled' | 'interrupted', reason: string): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    await this.discard();
    this.link.end({ result, bytes: this.received, path: this.path, reason });
  }

  private ack(): void {
    const bytes = this.consumed - this.acked;
    if (bytes <= 0) return;
    this.acked = this.consumed;
    this.link.send({ type: 'ack', bytes });
  }

  /** Whether the agent waits on the console: for bytes or `done`, with everything it sent written. */
  get waitingOnConsole(): boolean {
    return !this.finishing && !this.ending && this.consumed === this.received;
  }

  /** Ends the upload with `error` (told to the console), keeping nothing. */
  async fail(error: ProtocolError, sha256?: string): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    await this.discard();
    this.link.end({ result: 'failed', bytes: this.received, ...(sha256 ? { sha256 } : {}), path: this.path, error });
  }

  /**
   * Stops `cat` and removes the temporary file. Not after `cat` has exited: Docker reports the
   * exit of a command whose stream was cut seconds late, and a `cat` still writing writes to an
   * unlinked file.
   */
  private async discard(): Promise<void> {
    await this.target.command.kill();
    await removeTemp(this.session, this.request.transferId, this.target);
  }
}
