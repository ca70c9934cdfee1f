/**
 * An in-memory RTCDataChannel for the console's session in Node: it records what the session
 * sends and lets a test play the agent's side (open, messages, close).
 */
import { encodeMessage, type AgentTtyMessage, type ConsoleTtyMessage } from '@tether/protocol';
import type { SessionCarrier } from '../../../../renderer/src/session/terminal-session.js';

export class FakeDataChannel extends EventTarget {
  readyState: RTCDataChannelState = 'connecting';
  binaryType: BinaryType = 'blob';
  /** every frame the session sent, in order */
  readonly sent: (string | Uint8Array)[] = [];

  constructor(readonly label: string) {
    super();
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== 'open') throw new Error(`send on a ${this.readyState} channel`);
    this.sent.push(typeof data === 'string' ? data : data.slice());
  }

  close(): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.dispatchEvent(new Event('close'));
  }

  /** The agent's end opened. */
  open(): void {
    this.readyState = 'open';
    this.dispatchEvent(new Event('open'));
  }

  /** A message from the agent. */
  receive(message: AgentTtyMessage): void {
    this.dispatchEvent(new MessageEvent('message', { data: encodeMessage(message) }));
  }

  /** The messages the session sent (text frames), parsed. */
  messages(): ConsoleTtyMessage[] {
    return this.sent.filter((f): f is string => typeof f === 'string').map((f) => JSON.parse(f) as ConsoleTtyMessage);
  }

  /** The input frames the session sent (binary frames). */
  inputFrames(): Uint8Array[] {
    return this.sent.filter((f): f is Uint8Array => typeof f !== 'string');
  }
}

/** A carrier (the agent's connection) that opens fake channels and keeps them, newest last. */
export class FakeCarrier implements SessionCarrier {
  readonly channels: FakeDataChannel[] = [];

  openTerminalChannel(tabId: string): RTCDataChannel {
    const channel = new FakeDataChannel(`tty:${tabId}`);
    this.channels.push(channel);
    return channel as unknown as RTCDataChannel;
  }

  get last(): FakeDataChannel {
    const channel = this.channels[this.channels.length - 1];
    if (!channel) throw new Error('no channel opened yet');
    return channel;
  }
}
