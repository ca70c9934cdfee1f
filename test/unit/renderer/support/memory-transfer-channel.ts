/**
 * An in-memory RTCDataChannel for the console's file transfers (renderer/src/transfer/) in Node:
 * it records what the transfer sends and lets a test play the agent's side (open, JSON messages,
 * binary frames).
 */
export class MemoryTransferChannel extends EventTarget {
  readyState: RTCDataChannelState = 'connecting';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  binaryType = 'blob';
  readonly frames: (string | Uint8Array)[] = [];
  send(data: string | Uint8Array): void {
    this.frames.push(typeof data === 'string' ? data : new Uint8Array(data));
  }
  close(): void {
    this.readyState = 'closed';
  }
  open(): void {
    this.readyState = 'open';
    this.dispatchEvent(new Event('open'));
  }
  /** A message from the agent: an object as JSON text, bytes as a binary frame. */
  deliver(message: object | Uint8Array): void {
    const data =
      message instanceof Uint8Array
        ? message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength)
        : JSON.stringify(message);
    this.dispatchEvent(new MessageEvent('message', { data }));
  }
  /** The bytes of every binary frame sent. */
  get bytesSent(): number {
    return this.frames.reduce((n, f) => n + (typeof f === 'string' ? 0 : f.byteLength), 0);
  }
  /** Every JSON message sent, parsed. */
  messages(): { type: string; [key: string]: unknown }[] {
    return this.frames.filter((f): f is string => typeof f === 'string').map((f) => JSON.parse(f) as { type: string });
  }
}
