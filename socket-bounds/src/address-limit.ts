import type { IncomingMessage } from 'node:http';
import { protocolError } from '@tether/protocol';
import type { ExtendedError, Socket } from 'socket.io';
import type { BoundsLogger } from './logger.js';
import type { EngineConnection } from './outbound-limit.js';

/** Counts one more for the address; the function it returns takes it back, once however often it is called. */
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
 * What the limit logs and tells a refused client, in the words of the server that uses it: each
 * server's operators (and tests) search its log for its own messages, and its clients are told what
 * they can do there (raise a flag on the signaling server; close some on the agent).
 */
export interface PerAddressWords {
  /** logged (warn) when a WebSocket upgrade is refused, with `{ address, limit }` */
  transportRefused: string;
  /** logged (warn) when a Socket.IO connection is refused, with `{ address, reason, limit }` */
  connectionRefused: string;
  /** the RATE_LIMITED message the refused client reads: what happened, and what it can do about it */
  refusal(address: string, limit: number): string;
}

export interface ConnectionsPerAddressOptions {
  /** Socket.IO connections one address may hold at once (and twice as many transports); 0: no limit. */
  limit: number;
  log: BoundsLogger;
  words: PerAddressWords;
}

/**
 * How many connections one remote address may hold at once on a Socket.IO server. Two counts:
 *
 * - Socket.IO connections, checked in the handshake's middleware (register it first: a refused
 *   connection then costs no token check): one over the limit gets `connect_error` RATE_LIMITED with
 *   a message that says why, as a bad token gets UNAUTHORIZED.
 * - engine.io transports, joined or not, checked when the WebSocket upgrade arrives, before any
 *   Socket.IO state exists: above twice the limit the upgrade is refused (HTTP 403, no code). The
 *   margin leaves room for transports whose Socket.IO connection is being refused; the check stops
 *   transports that never join (Socket.IO drops them after 45 s) from piling up.
 *
 * The address is the TCP peer's: behind a proxy that does not keep client addresses, every client
 * has the proxy's, which is why the server lets an operator turn the limit off.
 */
export class ConnectionsPerAddress {
  readonly limit: number;
  readonly #log: BoundsLogger;
  readonly #words: PerAddressWords;
  readonly #transports = new Map<string, number>();
  readonly #sockets = new Map<string, number>();
  /** what to release when a transport closes: its own count, and those of the sockets on it */
  readonly #onClose = new WeakMap<EngineConnection, (() => void)[]>();

  constructor(options: ConnectionsPerAddressOptions) {
    this.limit = options.limit;
    this.#log = options.log;
    this.#words = options.words;
  }

  /** For engine.io's `allowRequest`: undefined when the address may open one more transport, else why not. */
  refusedTransport(req: IncomingMessage): string | undefined {
    if (this.limit === 0) return undefined;
    const address = req.socket.remoteAddress ?? '';
    if ((this.#transports.get(address) ?? 0) < 2 * this.limit) return undefined;
    this.#log.warn(this.#words.transportRefused, { address, limit: this.limit });
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

  /** The handshake's middleware: admits the socket while its address is under the limit. */
  readonly middleware = (socket: Socket, next: (error?: ExtendedError) => void): void => {
    if (this.limit === 0) return next();
    const address = socket.handshake.address;
    if ((this.#sockets.get(address) ?? 0) >= this.limit) {
      const message = this.#words.refusal(address, this.limit);
      this.#log.warn(this.#words.connectionRefused, { address, reason: 'too many connections from one address', limit: this.limit });
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
