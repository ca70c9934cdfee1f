import { ACK_BATCH_BYTES, ACK_IDLE_MS } from '@tether/protocol';
import type { Disposable } from '../base/emitter';

/**
 * Batches acknowledgements of parsed output (flow-control.ts): one ack per ACK_BATCH_BYTES, and
 * the remainder after ACK_IDLE_MS without more parsed output.
 */
export class AckBatcher implements Disposable {
  private unacked = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly sendAck: (bytes: number) => void,
    private readonly batchBytes = ACK_BATCH_BYTES,
    private readonly idleMs = ACK_IDLE_MS,
  ) {}

  /** Called from xterm's write callback: `bytes` more output has been parsed. */
  parsed(bytes: number): void {
    this.unacked += bytes;
    clearTimeout(this.idleTimer);
    if (this.unacked >= this.batchBytes) this.flush();
    else this.idleTimer = setTimeout(() => this.flush(), this.idleMs);
  }

  flush(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.unacked === 0) return;
    const bytes = this.unacked;
    this.unacked = 0;
    this.sendAck(bytes);
  }

  dispose(): void {
    clearTimeout(this.idleTimer);
    this.unacked = 0;
  }
}
