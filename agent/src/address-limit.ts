/**
 * How many connections one address may hold on the LAN endpoint (MAX_LAN_CONNECTIONS_PER_ADDRESS),
 * as `tether-signaling` limits its own (signaling/src/address-limit.ts, kept alike by hand). Two
 * counts:
 *
 * - Socket.IO connections, in the handshake's middleware: one over the limit gets `connect_error`
 *   RATE_LIMITED with a message that says why.
 * - engine.io transports, joined or not, when the WebSocket upgrade arrives, before any Socket.IO
 *   state exists: above twice the limit the upgrade is refused (HTTP 403, no code). The margin
 *   leaves room for transports whose connection is being refused; the check stops transports that
 *   never join (Socket.IO drops them after 45 s) from piling up.
 */
import type { IncomingMessage } from 'node:http';
import { MAX_LAN_CONNECTIONS_PER_ADDRESS, protocolError } from '@tether/protocol';
import type { ExtendedError, Socket } from 'socket.io';
import { createLogger } from './log.js';
import type { EngineConnection } from './outbound-limit.js';

const log = createLogger(import.meta.url);

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

export class ConnectionsPerAddress {
  readonly #transports = new Map<string, number>();
  readonly #sockets = new Map<string, number>();
  /** what to release when a transport closes: its own count, and those of the sockets on it */
  readonly #onClose = new WeakMap<EngineConnection, (() => void)[]>();

  constructor(readonly limit = MAX_LAN_CONNECTIONS_PER_ADDRESS) {}

  /** For engine.io's `allowRequest`: undefined when the address may open one more transport, else why not. */
  refusedTransport(req: IncomingMessage): string | undefined {
    const address = req.socket.remoteAddress ?? '';
    if ((this.#transports.get(address) ?? 0) < 2 * this.limit) return undefined;
    log.warn('lan transport refused: too many connections from one address', { address, limit: this.limit });
    return `too many connections from ${address}`;
  }

  /** Counts a transport until it closes; called on the engine's `connection`. */
  transportOpened(conn: EngineConnection): void {
    const releases = [take(this.#transports, conn.remoteAddress)];
    this.#onClose.set(conn, releases);
    conn.once('close', () => {
      for (const release of releases) release();
    });
  }

  /** The handshake's middleware: admits the socket while its address is under the limit. */
  readonly middleware = (socket: Socket, next: (error?: ExtendedError) => void): void => {
    const address = socket.handshake.address;
    if ((this.#sockets.get(address) ?? 0) >= this.limit) {
      const message = `too many connections from ${address} to this agent (at most ${this.limit}); close some`;
      log.warn('lan connection refused', { address, reason: 'too many connections from one address', limit: this.limit });
      const error: ExtendedError = new Error(`RATE_LIMITED: ${message}`);
      error.data = protocolError('RATE_LIMITED', message);
      return next(error);
    }
    // Released when the socket disconnects, or with its transport when it never connects.
    const release = take(this.#sockets, address);
    socket.once('disconnect', release);
    this.#onClose.get(socket.conn)?.push(release);
    next();
  };
}
