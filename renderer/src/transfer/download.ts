import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { ACK_IDLE_MS, TRANSFER_ACK_BYTES, type AcceptMessage, type ConsoleFileMessage, type DoneMessage } from '@tether/protocol';
import { FileTransfer } from './file-transfer';
import { saveBytes } from './save-file';

export interface DownloadRequest {
  sessionId: string;
  /** absolute, or relative to the shell's working directory */
  path: string;
}

/**
 * A download: the agent's frames are kept and hashed as they come and acknowledged once taken
 * (every TRANSFER_ACK_BYTES, and the rest after ACK_IDLE_MS); at the agent's `done` the console's
 * own count and SHA-256 go back, and only when they match is the file saved (save-file.ts). A
 * directory arrives as a tar archive.
 */
export class Download extends FileTransfer {
  private readonly hash = sha256.create();
  private parts: Uint8Array[] = [];
  private unacked = 0;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** the name to save as, from the agent's `accept` */
  saveName: string;
  kind: 'file' | 'directory' | undefined;

  constructor(
    readonly request: DownloadRequest,
    private readonly save: (parts: Uint8Array[], name: string) => void = saveBytes,
  ) {
    super('download', request.path.replace(/\/+$/, '').split('/').pop() || request.path);
    this.saveName = this.name;
  }

  protected offer(): ConsoleFileMessage {
    return { type: 'offer', direction: 'download', sessionId: this.request.sessionId, path: this.request.path };
  }

  protected onAccept(message: AcceptMessage): void {
    this.total = message.size ?? null;
    this.kind = message.kind;
    if (message.name) this.saveName = message.name;
  }

  protected onAck(): void {
    console.warn(`[transfer ${this.id}] an ack from the agent during a download; dropped`);
  }

  protected onBytes(bytes: Uint8Array): void {
    if (this.state !== 'running') return;
    this.parts.push(bytes);
    this.hash.update(bytes);
    this.unacked += bytes.length;
    this.progress(this.bytes + bytes.length);
    // Taken: kept in the page and hashed, so acknowledged (the credit rule, protocol/README.md).
    if (this.unacked >= TRANSFER_ACK_BYTES) this.ack();
    else {
      clearTimeout(this.ackTimer);
      this.ackTimer = setTimeout(() => this.ack(), ACK_IDLE_MS);
    }
  }

  protected onDone(message: DoneMessage): void {
    if (this.state !== 'running') return;
    this.ack();
    this.sha256 = bytesToHex(this.hash.digest());
    // A file must arrive with the size the agent announced; an agent that let a short read through
    // (an agent before this check could: protocol/README.md, "A download") is told so, and nothing is saved.
    if (this.kind === 'file' && this.total !== null && this.bytes !== this.total) {
      const reason = `${this.bytes} bytes arrived of a file of ${this.total}: the download is not intact`;
      this.channel?.send({ type: 'cancel', reason });
      this.end('failed', { code: 'TRANSFER_FAILED', message: `${reason}. Nothing was saved.` });
      return;
    }
    this.channel?.send({ type: 'done', bytes: this.bytes, sha256: this.sha256 });
    if (message.bytes !== this.bytes || message.sha256 !== this.sha256) {
      this.parts = [];
      this.end('failed', {
        code: 'DIGEST_MISMATCH',
        message: `the agent sent ${message.bytes} bytes with SHA-256 ${message.sha256}; ${this.bytes} arrived with ${this.sha256}. Nothing was saved.`,
      });
      return;
    }
    this.total = this.bytes;
    this.save(this.parts, this.saveName);
    this.parts = [];
    this.end('done', undefined);
  }

  protected override end(...args: Parameters<FileTransfer['end']>): void {
    clearTimeout(this.ackTimer);
    if (args[0] !== 'done') this.parts = [];
    super.end(...args);
  }

  private ack(): void {
    clearTimeout(this.ackTimer);
    if (this.unacked === 0 || this.isFinished) return;
    this.channel?.send({ type: 'ack', bytes: this.unacked });
    this.unacked = 0;
  }
}
