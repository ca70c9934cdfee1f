import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * WebSocket upgrades handed to Engine.IO per turn of the event loop, at most. An upgrade and the
 * Engine.IO and Socket.IO handshakes that follow cost the node about 0.5–1 ms of CPU each; in a
 * reconnect storm hundreds arrive in one poll of the sockets, and a relayed candidate that arrived
 * in the same poll waited for all of them. Paced, a turn holds at most this many.
 */
export const UPGRADES_PER_TURN = 8;
/**
 * Upgrades that may wait for their turn; one more is refused (503 with Retry-After). At
 * UPGRADES_PER_TURN a turn, this is about a second of admissions on a node that keeps up.
 */
export const MAX_WAITING_UPGRADES = 1024;

/** Why the gate refuses an upgrade now, or undefined to let it through. */
export type UpgradeRefusal = { reason: string; retryAfterMs: number } | undefined;

interface Waiting {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  onError: (error: Error) => void;
}

/**
 * Admission before the WebSocket upgrade (docs/scale-out.md, "Admission"): a refusal here costs a
 * few microseconds (an HTTP answer of 503 with `Retry-After`, written on the raw socket, no
 * WebSocket, no Engine.IO or Socket.IO object), where a refusal at the Socket.IO handshake cost
 * nearly as much as an admission, so that a node that shed load stayed overloaded. Upgrades that are
 * let through go to Engine.IO at most UPGRADES_PER_TURN per turn of the event loop; the rest wait
 * (in arrival order) for the next turns, so that relayed messages and timers run in between.
 */
export class UpgradeGate {
  readonly #waiting: Waiting[] = [];
  #head = 0;
  #thisTurn = 0;
  #scheduled = false;

  constructor(
    /** Engine.IO's upgrade handling */
    private readonly pass: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
    /** asked for each new upgrade: a reason to refuse it now (a node that lags), or undefined */
    private readonly refusal: () => UpgradeRefusal,
    /** told of each refusal */
    private readonly onRefused: (reason: string, waiting: number) => void,
    private readonly perTurn = UPGRADES_PER_TURN,
    private readonly maxWaiting = MAX_WAITING_UPGRADES,
  ) {}

  /** Upgrades waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** The http server's `upgrade` listener. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const refused = this.refusal();
    if (refused) {
      this.#refuse(socket, refused.reason, refused.retryAfterMs);
      return;
    }
    if (this.waiting === 0 && this.#thisTurn < this.perTurn) {
      this.#thisTurn++;
      this.#schedule();
      this.pass(req, socket, head);
      return;
    }
    if (this.waiting >= this.maxWaiting) {
      this.#refuse(socket, 'too many connections are waiting for their turn', 1000);
      return;
    }
    // Nothing reads the socket until Engine.IO has it; a reset meanwhile must not crash the node.
    const onError = () => socket.destroy();
    socket.on('error', onError);
    this.#waiting.push({ req, socket, head, onError });
    this.#schedule();
  };

  /** Refuses every waiting upgrade (the server closes). */
  close(): void {
    for (let i = this.#head; i < this.#waiting.length; i++) this.#waiting[i]!.socket.destroy();
    this.#waiting.length = 0;
    this.#head = 0;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#turn());
  }

  /** A new turn: hands the next waiting upgrades to Engine.IO. */
  #turn(): void {
    this.#scheduled = false;
    this.#thisTurn = 0;
    while (this.#thisTurn < this.perTurn && this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = undefined as unknown as Waiting; // released at once
      next.socket.off('error', next.onError);
      if (next.socket.destroyed) continue; // the client gave up while it waited
      this.#thisTurn++;
      this.pass(next.req, next.socket, next.head);
    }
    if (this.#head === this.#waiting.length) {
      this.#waiting.length = 0;
      this.#head = 0;
    }
    if (this.#thisTurn > 0 || this.waiting > 0) this.#schedule();
  }

  #refuse(socket: Duplex, reason: string, retryAfterMs: number): void {
    this.onRefused(reason, this.waiting);
    const body = JSON.stringify({ error: 'SERVICE_UNAVAILABLE', message: reason, retryAfterMs });
    socket.on('error', () => socket.destroy()); // the client may be gone already
    socket.write(
      'HTTP/1.1 503 Service Unavailable\r\n' +
        `Retry-After: ${Math.ceil(retryAfterMs / 1000)}\r\n` +
        'Connection: close\r\n' +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    socket.end();
    // Closed once the answer is out, whether or not the client closes its side.
    socket.once('finish', () => socket.destroy());
  }
}
