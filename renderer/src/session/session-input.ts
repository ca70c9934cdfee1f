import { MAX_FRAME_BYTES } from '@tether/protocol';
import { InputLedger, type UndeliveredInput } from './input-ledger';
import type { SessionError } from './terminal-session';

/** Input typed before the first `opened` is held up to this much; a paste larger than that is refused. */
const MAX_PENDING_INPUT_BYTES = 1024 * 1024;

/**
 * A session's keystrokes on their way to the agent: held while the terminal opens (bounded), cut
 * into frames once it is open, and counted so that a resume can tell which never arrived. Which of
 * these applies is the session's call: it knows its state.
 */
export class SessionInput {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readonly ledger = new InputLedger();

  constructor(
    /** hands one frame to the current channel; an error when it could not */
    private readonly sendFrame: (bytes: Uint8Array) => SessionError | undefined,
    private readonly reportError: (error: SessionError) => void,
  ) {}

  /** Before `opened`: keeps `bytes` to send once the terminal is open, unless that goes over the bound. */
  hold(bytes: Uint8Array): void {
    if (this.pendingBytes + bytes.byteLength > MAX_PENDING_INPUT_BYTES) {
      this.reportError({ code: 'NOT_OPEN', message: 'input dropped: the terminal is not open yet' });
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
  }

  /** The input held so far, handed over once: the session writes it again now that it is open. */
  takeHeld(): Uint8Array[] {
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return pending;
  }

  /** Sends `bytes` in frames of at most MAX_FRAME_BYTES; each one sent is recorded for a resume. */
  send(bytes: Uint8Array): void {
    for (let offset = 0; offset < bytes.byteLength; offset += MAX_FRAME_BYTES) {
      const frame = bytes.subarray(offset, Math.min(offset + MAX_FRAME_BYTES, bytes.byteLength));
      const failed = this.sendFrame(frame);
      if (failed) this.reportError(failed);
      else this.ledger.record(frame);
    }
  }

  /** `opened.resumed.inputReceived`: what was sent and never arrived (InputLedger.reconcile). */
  reconcile(received: number): UndeliveredInput | undefined {
    return this.ledger.reconcile(received);
  }
}
