import type { Socket as NetSocket } from 'node:net';
import { MAX_QUEUED_OUTBOUND_BYTES, MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH } from '@tether/protocol';
import type { SignalingSocket } from './io-types.js';
import type { Logger } from './log.js';

/** One engine.io connection (a transport), on which any number of Socket.IO sockets may ride. */
export type EngineConnection = SignalingSocket['conn'];

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

interface Queue {
  /** bytes in engine.io's write buffer, which waits while the websocket transport has a send in flight */
  waiting: number;
  bound: number;
  /** the most it held at once, logged when it closes: how close clients come to the bound */
  peak: number;
  ended: boolean;
  /** who is on the connection, for the log, once a socket on it has authenticated */
  who?: Record<string, unknown>;
}

/**
 * Bounds what the server holds for a client that does not read (docs/hardening.md). Engine.io
 * queues packets without limit once the kernel's buffers for a connection are full: its websocket
 * transport stays unwritable until the send in flight has left, and Node's socket keeps what the
 * kernel did not take. Both are counted on every packet the server queues for the connection; above
 * the bound, the connection's TCP socket is destroyed at once (a graceful close would wait for the
 * client to read the queue first). Other connections are not affected.
 *
 * Counted in bytes, not packets: what the server sends ranges from a 30-byte ack to a 60 KB offer
 * and a presence list of megabytes, so no packet count is both safe and tight.
 */
export class OutboundLimit {
  readonly #queues = new WeakMap<EngineConnection, Queue>();
  #ended = 0;

  constructor(
    private readonly log: Logger,
    private readonly bounds = { beforeAuth: MAX_QUEUED_OUTBOUND_BYTES_BEFORE_AUTH, authenticated: MAX_QUEUED_OUTBOUND_BYTES },
  ) {}

  /** Connections ended so far for not reading. */
  get ended(): number {
    return this.#ended;
  }

  /** Starts counting a new engine.io connection's queue; called on the engine's `connection`. */
  watch(conn: EngineConnection): void {
    const queue: Queue = { waiting: 0, bound: this.bounds.beforeAuth, peak: 0, ended: false };
    this.#queues.set(conn, queue);
    conn.once('close', (reason: string) => {
      this.log.debug('connection closed', { address: conn.remoteAddress, ...queue.who, reason, peakQueuedBytes: queue.peak });
    });
    conn.on('flush', () => {
      queue.waiting = 0; // handed to the transport: from now on in the TCP socket's buffer
    });
    conn.on('packetCreate', (packet: { data?: unknown }) => {
      if (queue.ended) return;
      queue.waiting += packetBytes(packet);
      const queued = queue.waiting + (tcpSocket(conn)?.writableLength ?? 0);
      queue.peak = Math.max(queue.peak, queued);
      if (queued > queue.bound) this.#end(conn, queue, queued);
    });
  }

  /** Raises the bound of the socket's connection once the socket has passed authentication. */
  authenticated(socket: SignalingSocket): void {
    const queue = this.#queues.get(socket.conn);
    if (!queue) return;
    queue.bound = this.bounds.authenticated;
    const { role, org, jti } = socket.data.identity;
    queue.who = { socketId: socket.id, role, org, jti };
  }

  #end(conn: EngineConnection, queue: Queue, queued: number): void {
    queue.ended = true;
    this.#ended++;
    this.log.warn('connection ended: it does not read what the server sends', {
      address: conn.remoteAddress,
      ...queue.who,
      queuedBytes: queued,
      boundBytes: queue.bound,
      endedSoFar: this.#ended,
    });
    const socket = tcpSocket(conn);
    if (socket) socket.destroy();
    else conn.close(true);
  }
}

/**
 * The connection's TCP socket: with the websocket transport (the only one the server offers), the
 * upgrade request's socket, which `ws` writes to.
 */
function tcpSocket(conn: EngineConnection): NetSocket | undefined {
  const socket = (conn.request as { socket?: NetSocket } | undefined)?.socket;
  return socket && !socket.destroyed ? socket : undefined;
}
