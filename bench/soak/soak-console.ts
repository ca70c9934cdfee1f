/**
 * The soak's consoles: werift peers in this process, each enrolled with the agent through
 * `tether-agent pair` and its LAN endpoint, opening terminals as the real console does (one peer
 * connection per console, one `tty:` channel per terminal, `ack` for flow control, `close` to end).
 * Output is kept as a rolling window, not in full: a soak runs for long.
 */
import { execFileSync } from 'node:child_process';
import { parsePairingToken, type PairedAgent } from '@tether/protocol';
import type { Werift } from '../../harness/patched-werift.js';
import { opened, TestConsole, until } from '../../harness/werift-console.js';
import { ACK_BATCH_BYTES, ACK_IDLE_MS } from '@tether/protocol';

type Pc = InstanceType<Werift['RTCPeerConnection']>;
type Channel = ReturnType<Pc['createDataChannel']>;
type Msg = { type: string; [k: string]: unknown };

/** How much recent output a terminal keeps to look for markers in. */
const WINDOW_CHARS = 64 * 1024;

export class SoakError extends Error {}

/** A console identity enrolled with the agent (one `tether-agent pair` token each). */
export async function enrollConsole(cli: string, stateDir: string, url: string): Promise<{ console: TestConsole; agent: PairedAgent }> {
  const out = execFileSync(process.execPath, [cli, 'pair', '--no-qr', '--state-dir', stateDir], { encoding: 'utf8' });
  const token = parsePairingToken(/tether\d+:[A-Za-z0-9_-]+/.exec(out)?.[0] ?? '');
  if (!token.ok) throw new SoakError(`tether-agent pair printed no token: ${out}`);
  const c = await TestConsole.create();
  await c.open(url);
  const ack = await c.enroll(token.value);
  if (!ack.ok) throw new SoakError(`enrolment refused: ${JSON.stringify(ack)}`);
  return { console: c, agent: ack.agent };
}

/** One peer connection of an enrolled console, bound and authenticated; terminals open on it. */
export class SoakPeer {
  private nextTab = 2;
  /**
   * SCTP stream of the next terminal, never one used before on this connection. werift as a
   * console frees a stream id as soon as the agent's reset arrives, before its own reset of that
   * stream is answered; a new channel on the id then sends its DCEP OPEN with the old sequence
   * number, the agent (which has reset its side) waits for number 0, and the channel never opens
   * (about 1 in 50 quick reopens here). Chromium frees an id only once both resets are done. Odd
   * ids: the console is the DTLS client; 1 and 3 are `control` and `tty:1`.
   */
  private nextStreamId = 5;
  private constructor(
    private readonly pc: Pc,
    private readonly c: TestConsole,
    private readonly negotiationId: string,
  ) {}

  /** Offers, connects and authenticates; a connection not ready within `timeoutMs` is closed and an error. */
  static async connect(w: Werift, c: TestConsole, agent: PairedAgent, timeoutMs = 60_000): Promise<SoakPeer> {
    const { pc, control, tty, sessionId, events } = await c.connect(w, agent.fingerprint);
    const peer = new SoakPeer(pc, c, sessionId);
    try {
      const replies = await withTimeout(
        c.bind(control, sessionId, agent.publicKey, agent.fingerprint),
        timeoutMs,
        () =>
          `the control channel and authentication (connection ${pc.connectionState}, ICE ${pc.iceConnectionState}, agent: ${JSON.stringify(events.disconnect ?? null)})`,
      );
      if (!replies.some((m) => m.type === 'auth-ok')) throw new SoakError(`not authenticated: ${JSON.stringify(replies)}`);
    } catch (error) {
      await peer.close();
      throw error;
    }
    // TestConsole.connect makes a `tty:1` channel up front; the soak opens its own.
    tty.close();
    return peer;
  }

  /** `ackBytes`: acknowledge every this many bytes (ACK_BATCH_BYTES as the console does; more for a lagging one). */
  async terminal(target: string, timeoutMs = 30_000, ackBytes = ACK_BATCH_BYTES): Promise<SoakTerminal> {
    const channel = this.pc.createDataChannel(`tty:${this.nextTab++}`, { id: this.nextStreamId });
    this.nextStreamId += 2;
    const term = new SoakTerminal(channel, ackBytes);
    await withTimeout(opened(channel), timeoutMs, `the tty channel to open (stream ${String(channel.id)})`);
    channel.send(JSON.stringify({ type: 'open', target, cols: 80, rows: 24 }));
    const first = await until(() => term.messages.find((m) => m.type === 'opened' || m.type === 'error'), 'opened or error', timeoutMs);
    if (first.type !== 'opened') {
      channel.close();
      throw new SoakError(`open refused: ${JSON.stringify(first)}`);
    }
    return term;
  }

  /** Ends the negotiation as a console does (webrtc:disconnect), then closes the peer connection. */
  async close(): Promise<void> {
    this.c.socket?.emit('webrtc:disconnect', { sessionId: this.negotiationId, reason: 'soak done' });
    await this.pc.close();
  }

  /** Closes the peer connection with no `close` and no `webrtc:disconnect`: a console that vanished. */
  async drop(): Promise<void> {
    await this.pc.close();
  }
}

/** One terminal: acks output as a console does and keeps the last WINDOW_CHARS of it. */
export class SoakTerminal {
  readonly messages: Msg[] = [];
  received = 0;
  private window = '';
  private unacked = 0;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly decoder = new TextDecoder();
  closed = false;

  constructor(
    private readonly channel: Channel,
    private readonly ackBytes = ACK_BATCH_BYTES,
  ) {
    channel.onMessage.subscribe((data: string | Buffer) => {
      if (typeof data === 'string') {
        this.messages.push(JSON.parse(data) as Msg);
        return;
      }
      this.received += data.length;
      this.window = (this.window + this.decoder.decode(data, { stream: true })).slice(-WINDOW_CHARS);
      this.unacked += data.length;
      if (this.unacked >= this.ackBytes) this.ack();
      else this.ackTimer ??= setTimeout(() => this.ack(), ACK_IDLE_MS);
    });
    channel.stateChanged.subscribe((state) => {
      if (state === 'closed') {
        this.closed = true;
        clearTimeout(this.ackTimer);
      }
    });
  }

  private ack(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.unacked > 0 && this.channel.readyState === 'open') this.channel.send(JSON.stringify({ type: 'ack', bytes: this.unacked }));
    this.unacked = 0;
  }

  /** Sends raw input bytes (a Ctrl-C: `[3]`). */
  send(bytes: Uint8Array): void {
    this.channel.send(Buffer.from(bytes));
  }

  /** Waits for `marker` in output that arrives from now on; `received` when it is seen. */
  async waitFor(marker: string, timeoutMs = 30_000): Promise<number> {
    this.window = '';
    await this.#whileFlowing(() => this.window.includes(marker) || this.fatal(), `"${marker}" in the output`, timeoutMs);
    const fatal = this.fatal();
    if (fatal) throw new SoakError(`session ended: ${JSON.stringify(fatal)}`);
    return this.received;
  }

  /**
   * Types `command`, then waits for `marker` in output that arrived after it was typed. `timeoutMs`
   * bounds a stall, not the command: output that keeps coming (a long listing on a loaded
   * machine, where sessions at idle priority get the CPU last) is progress.
   */
  async run(command: string, marker: string, timeoutMs = 30_000): Promise<void> {
    this.window = '';
    this.channel.send(Buffer.from(`${command}\n`));
    await this.#whileFlowing(() => this.window.includes(marker) || this.fatal(), `"${marker}" in the output`, timeoutMs);
    const fatal = this.fatal();
    if (fatal) throw new SoakError(`session ended: ${JSON.stringify(fatal)}`);
  }

  /** Polls `check` for as long as output keeps arriving; fails once none has come for `stallMs`. */
  async #whileFlowing(check: () => unknown, what: string, stallMs: number): Promise<void> {
    let seen = this.received;
    let movedAt = Date.now();
    await until(
      () => {
        if (check()) return true;
        if (this.received !== seen) [seen, movedAt] = [this.received, Date.now()];
        if (Date.now() - movedAt > stallMs) throw new SoakError(`timed out: ${what} (no output for ${stallMs / 1000} s)`);
        return false;
      },
      what,
      Number.POSITIVE_INFINITY,
    );
  }

  /** Waits for the first output (the prompt). */
  async prompt(timeoutMs = 30_000): Promise<void> {
    await until(() => this.received > 0 || this.fatal(), 'the prompt', timeoutMs);
  }

  private fatal(): Msg | undefined {
    return (
      this.messages.find((m) => m.type === 'exit' || (m.type === 'error' && m.fatal === true)) ??
      (this.closed ? { type: 'channel closed' } : undefined)
    );
  }

  /** `close` as the console sends it, then waits for the agent to close the channel. */
  async close(timeoutMs = 15_000): Promise<void> {
    clearTimeout(this.ackTimer);
    if (this.channel.readyState === 'open') this.channel.send(JSON.stringify({ type: 'close' }));
    try {
      await until(() => this.closed, 'the agent to close the channel', timeoutMs);
    } finally {
      if (!this.closed) this.channel.close();
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new SoakError(`timed out: ${typeof what === 'string' ? what : what()}`)), ms)),
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
