import type { IncomingMessage } from 'node:http';
import { protocolError } from '@tether/protocol';
import type { ExtendedError } from 'socket.io';
import type { SignalingSocket } from './io-types.js';
import type { Logger } from './log.js';
import type { EngineConnection } from './outbound-limit.js';

/**
 * Connections one address may hold by default (`--max-connections-per-address`). Generous: a site
 * behind one NAT address may have hundreds of agents, and every test connects from 127.0.0.1. It
 * stops one address from opening sockets without end, not from opening many.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1024;

function take(counts: Map<string, number>, address: string): () => void {
  counts.set(address, (counts.get(address) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (counts.get(address) ?? 1) - 1;
    if (left > 0) counts.set(address, left);
    else counts.delete(address);
  };
}

/**
 * How many connections one remote address may hold at once; 0: no limit. Two counts:
 *
 * - Socket.IO connections, checked before authentication, in the handshake's first middleware: one
 *   over the limit gets `connect_error` RATE_LIMITED with a message that says why, as a bad token
 *   gets UNAUTHORIZED.
 * - engine.io transports, joined or not, checked when the WebSocket upgrade arrives, before any
 *   Socket.IO state exists: above twice the limit the upgrade is refused (HTTP 403, no code). The
 *   margin leaves room for transports whose Socket.IO connection is being refused; the check stops
 *   transports that never join (Socket.IO drops them after 45 s) from piling up.
 *
 * The address is the TCP peer's: behind a proxy that does not keep client addresses, every client
 * has the proxy's (signaling/README.md says when to raise the limit or turn it off).
 */
export class ConnectionsPerAddress {
  readonly #transports = new Map<string, number>();
  readonly #sockets = new Map<string, number>();
  /** what to release when a transport closes: its own count, and those of the sockets on it */
  readonly #onClose = new WeakMap<EngineConnection, (() => void)[]>();

  constructor(
    readonly limit: number,
    private readonly log: Logger,
  ) {}

  /** For engine.io's `allowRequest`: undefined when the address may open one more transport, else why not. */
  refusedTransport(req: IncomingMessage): string | undefined {
    if (this.limit === 0) return undefined;
    const address = req.socket.remoteAddress ?? '';
    if ((this.#transports.get(address) ?? 0) < 2 * this.limit) return undefined;
    this.log.warn('transport refused: too many connections from one address', { address, limit: this.limit });
    return `too many connections from ${address}`;
  }

  /** Counts a transport until it closes; called on the engine's `connection`. */
  transportOpened(conn: EngineConnection): void {
    if (this.limit === 0) return;
    const releases = [take(this.#transports, conn.remoteAddress)];
    this.#onClose.set(conn, releases);
    conn.once('close', () => {
      for (const release of releases) release();
    });
  }

  /** The handshake's first middleware: admits the socket while its address is under the limit. */
  readonly middleware = (socket: SignalingSocket, next: (error?: ExtendedError) => void): void => {
    if (this.limit === 0) return next();
    const address = socket.handshake.address;
    const held = this.#sockets.get(address) ?? 0;
    if (held >= this.limit) {
      const message = `too many connections from ${address} (at most ${this.limit}); close some, or ask the operator to raise --max-connections-per-address`;
      this.log.warn('connection refused', { address, reason: 'too many connections from one address', limit: this.limit });
      const error: ExtendedError = new Error(`RATE_LIMITED: ${message}`);
      error.data = protocolError('RATE_LIMITED', message);
      return next(error);
    }
    // Released when the socket disconnects, or with its transport when it never connects (a later
    // middleware refused it, or the transport closed during the handshake).
    const release = take(this.#sockets, address);
    socket.once('disconnect', release);
    this.#onClose.get(socket.conn)?.push(release);
    next();
  };
}
