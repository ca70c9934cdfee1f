import type { Socket as NetSocket } from 'node:net';
import type { Socket } from 'socket.io';
import type { BoundsLogFields, BoundsLogger } from './logger.js';

/** One engine.io connection (a transport), on which any number of Socket.IO sockets may ride. */
export type EngineConnection = Socket['conn'];

/**
 * What a queued packet costs beside its data: the packet object and its slot in the write buffer.
 * It makes a flood of small answers count, not only its bytes.
 */
const PACKET_OVERHEAD_BYTES = 100;

/** An estimate of the memory one engine.io packet holds until it is written. */
function packetBytes(packet: { data?: unknown }): number {
  const { data } = packet;
  let bytes = 0;
  if (typeof data === 'string') bytes = data.length;
  else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes = data.byteLength;
  return PACKET_OVERHEAD_BYTES + bytes;
}

/**
 * The connection's TCP socket: with the websocket transport, the upgrade request's socket, which
 * `ws` writes to. Long-polling has no such socket; both servers offer only WebSocket for this.
 */
function tcpSocket(conn: EngineConnection): NetSocket | undefined {
  const socket = (conn.request as { socket?: NetSocket } | undefined)?.socket;
  return socket && !socket.destroyed ? socket : undefined;
}

interface Queue {
  /** the TCP socket, kept here: the server may release the upgrade request that holds it */
  tcp: NetSocket | undefined;
  /** bytes in engine.io's write buffer, which waits while the websocket transport has a send in flight */
  waiting: number;
  bound: number;
  /** the most it held at once, logged when it closes: how close clients come to the bound */
  peak: number;
  ended: boolean;
  /** who is on the connection, for the log, once a Socket.IO connection on it was admitted */
  who?: BoundsLogFields;
}

/**
 * What the bound logs, in the words of the server that uses it: each server's operators (and tests)
 * search its log for its own messages.
 */
export interface OutboundWords {
  /** logged (debug) when a transport closes, with `{ address, ...who, reason, peakQueuedBytes }` */
  closed: string;
  /** logged (warn) when a connection is ended, with `{ address, ...who, queuedBytes, boundBytes, endedSoFar }` */
  ended: string;
}

export interface OutboundLimitOptions {
  log: BoundsLogger;
  /**
   * Bytes a connection may have queued: `handshake` until a Socket.IO connection on it is admitted
   * (on the signaling server, before authentication: it is sent little more than `connect_error`),
   * `admitted` from then on. The same number twice where admission changes nothing.
   */
  bounds: { handshake: number; admitted: number };
  words: OutboundWords;
}

/**
 * Bounds what a Socket.IO server holds for a client that does not read (docs/hardening.md).
 * Engine.io queues packets without limit once the kernel's buffers for a connection are full: its
 * websocket transport stays unwritable until the send in flight has left, and Node's socket keeps
 * what the kernel did not take. Both are counted on every packet queued for the connection; above
 * the bound, the connection's TCP socket is destroyed at once (a graceful close would wait for the
 * client to read the queue first). Other connections are not affected.
 *
 * Counted in bytes, not packets: what a server sends ranges from a 20-byte ack to a 60 KB offer and
 * a presence list of megabytes, so no packet count is both safe and tight.
 */
export class OutboundLimit {
  readonly #log: BoundsLogger;
  readonly #bounds: OutboundLimitOptions['bounds'];
  readonly #words: OutboundWords;
  readonly #queues = new WeakMap<EngineConnection, Queue>();
  #ended = 0;

  constructor(options: OutboundLimitOptions) {
    this.#log = options.log;
    this.#bounds = options.bounds;
    this.#words = options.words;
  }

  /** Starts counting a new engine.io connection's queue; called on the engine's `connection`. */
  watch(conn: EngineConnection): void {
    const queue: Queue = { tcp: tcpSocket(conn), waiting: 0, bound: this.#bounds.handshake, peak: 0, ended: false };
    this.#queues.set(conn, queue);
    conn.once('close', (reason: string) => {
      this.#log.debug(this.#words.closed, { address: conn.remoteAddress, ...queue.who, reason, peakQueuedBytes: queue.peak });
    });
    conn.on('flush', () => {
      queue.waiting = 0; // handed to the transport: from now on in the TCP socket's buffer
    });
    conn.on('packetCreate', (packet: { data?: unknown }) => {
      if (queue.ended) return;
      queue.waiting += packetBytes(packet);
      const queued = queue.waiting + (queue.tcp?.writableLength ?? 0);
      queue.peak = Math.max(queue.peak, queued);
      if (queued > queue.bound) this.#end(conn, queue, queued);
    });
  }

  /**
   * A Socket.IO connection on the socket's transport was admitted (the server's `connection`
   * event): its bound becomes `bounds.admitted`, and its log lines name it by `who`.
   */
  admitted(socket: Pick<Socket, 'conn'>, who: BoundsLogFields): void {
    const queue = this.#queues.get(socket.conn);
    if (!queue) return;
    queue.bound = this.#bounds.admitted;
    queue.who = who;
  }

  #end(conn: EngineConnection, queue: Queue, queued: number): void {
    queue.ended = true;
    this.#ended++;
    this.#log.warn(this.#words.ended, {
      address: conn.remoteAddress,
      ...queue.who,
      queuedBytes: queued,
      boundBytes: queue.bound,
      endedSoFar: this.#ended,
    });
    const socket = queue.tcp;
    if (socket && !socket.destroyed) socket.destroy();
    else conn.close(true);
  }
}
