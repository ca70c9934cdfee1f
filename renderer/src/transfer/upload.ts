import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import {
  TRANSFER_BUFFER_HIGH_BYTES,
  TRANSFER_CHUNK_BYTES,
  TRANSFER_WINDOW_BYTES,
  type AcceptMessage,
  type ConsoleFileMessage,
  type DoneMessage,
} from '@tether/protocol';
import { FileTransfer } from './file-transfer';

/** The file is read this much at a time (then cut into frames): fewer, larger reads. */
const READ_BYTES = 1024 * 1024;

export interface UploadRequest {
  sessionId: string;
  /** absolute, or relative to the shell's working directory; that directory when absent */
  dir: string | undefined;
  /** the name it gets in the container */
  name: string;
  overwrite: boolean;
}

/**
 * An upload: the file is read in slices, hashed as it goes (SHA-256, incremental), and sent in
 * frames while the agent's credit allows (at most TRANSFER_WINDOW_BYTES unacknowledged) and the
 * channel's buffer is below TRANSFER_BUFFER_HIGH_BYTES; then `done` with the digest, and the agent's
 * `done` says where the file now is.
 */
export class Upload extends FileTransfer {
  private readonly hash = sha256.create();
  private sent = 0;
  private acked = 0;
  private wake: (() => void) | undefined;

  constructor(
    readonly file: File,
    readonly request: UploadRequest,
  ) {
    super('upload', request.name);
    this.total = file.size;
  }

  protected offer(): ConsoleFileMessage {
    const { sessionId, dir, name, overwrite } = this.request;
    return { type: 'offer', direction: 'upload', sessionId, ...(dir ? { dir } : {}), name, size: this.file.size, overwrite };
  }

  protected onAccept(_message: AcceptMessage): void {
    void this.pump();
  }

  protected onAck(bytes: number): void {
    this.acked = Math.min(this.sent, this.acked + bytes);
    this.progress(this.acked);
    this.wakeUp();
  }

  protected override onDrained(): void {
    this.wakeUp();
  }

  protected onBytes(): void {
    console.warn(`[transfer ${this.id}] bytes from the agent during an upload; dropped`);
  }

  protected onDone(message: DoneMessage): void {
    if (this.state !== 'verifying') return;
    this.path = message.path ?? this.path;
    this.sha256 = message.sha256;
    this.progress(message.bytes);
    this.end('done', undefined);
  }

  /** However it ends (cancel, an error from the agent, a lost channel), a pump waiting for credit stops. */
  protected override end(...args: Parameters<FileTransfer['end']>): void {
    super.end(...args);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * Resolves once the credit and the channel's buffer both allow another frame, or the transfer
   * ended. Checked again after every wake-up: the buffer draining says nothing of the credit.
   */
  private async room(): Promise<void> {
    while (
      !this.isFinished &&
      (this.sent - this.acked + TRANSFER_CHUNK_BYTES > TRANSFER_WINDOW_BYTES ||
        (this.channel?.bufferedAmount ?? 0) > TRANSFER_BUFFER_HIGH_BYTES)
    ) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private async pump(): Promise<void> {
    const size = this.file.size;
    let offset = 0;
    while (offset < size && !this.isFinished) {
      let slice: Uint8Array;
      try {
        slice = new Uint8Array(await this.file.slice(offset, Math.min(size, offset + READ_BYTES)).arrayBuffer());
      } catch (error) {
        this.fail('READ_FAILED', `the file could not be read: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      for (let at = 0; at < slice.length && !this.isFinished; ) {
        await this.room();
        if (this.isFinished) return;
        const frame = slice.subarray(at, at + TRANSFER_CHUNK_BYTES);
        // Hashed a frame at a time: the page's thread, which also draws the terminals, is never held long.
        this.hash.update(frame);
        if (!this.channel?.sendBytes(frame)) return; // closed: `closed` reports the interruption
        at += frame.length;
        this.sent += frame.length;
      }
      offset += slice.length;
    }
    if (this.isFinished) return;
    this.sha256 = bytesToHex(this.hash.digest());
    this.state = 'verifying';
    this.channel?.send({ type: 'done', bytes: this.sent, sha256: this.sha256 });
    this.changed();
  }
}
