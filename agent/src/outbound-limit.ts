/**
 * Bounds what the LAN endpoint holds for a console that does not read (docs/hardening.md), as
 * `tether-signaling` does for its clients (signaling/src/outbound-limit.ts; the agent imports
 * nothing from the server, so the two are kept alike by hand). Engine.io queues packets without
 * limit once the kernel's buffers for a connection are full: its websocket transport stays
 * unwritable while a send is in flight, and Node's socket keeps what the kernel did not take. Both
 * are counted on every packet queued for the connection; above the bound its TCP socket is
 * destroyed at once (a graceful close would wait for the client to read first).
 *
 * Counted in bytes, not packets: answers range from a 20-byte ack to a 60 KB SDP.
 */
import type { Socket as NetSocket } from 'node:net';
import { MAX_LAN_QUEUED_OUTBOUND_BYTES } from '@tether/protocol';
import type { Socket } from 'socket.io';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** One engine.io connection (a transport), on which any number of Socket.IO sockets may ride. */
export type EngineConnection = Socket['conn'];

/** What a queued packet costs beside its data (the packet object, its slot in the buffer): a flood of small answers counts too. */
const PACKET_OVERHEAD_BYTES = 100;

function packetBytes(packet: { data?: unknown }): number {
  const { data } = packet;
  let bytes = 0;
  if (typeof data === 'string') bytes = data.length;
  else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes = data.byteLength;
  return PACKET_OVERHEAD_BYTES + bytes;
}

/** The connection's TCP socket: with the websocket transport, the upgrade request's, which `ws` writes to. */
function tcpSocket(conn: EngineConnection): NetSocket | undefined {
  const socket = (conn.request as { socket?: NetSocket } | undefined)?.socket;
  return socket && !socket.destroyed ? socket : undefined;
}

interface Queue {
  /** bytes in engine.io's write buffer, waiting while the transport has a send in flight */
  waiting: number;
  /** the most it held at once, logged when it closes */
  peak: number;
  ended: boolean;
  /** the Socket.IO connection on it, for the log */
  connection?: string;
}

export class OutboundLimit {
  readonly #queues = new WeakMap<EngineConnection, Queue>();
  #ended = 0;

  constructor(private readonly bound = MAX_LAN_QUEUED_OUTBOUND_BYTES) {}

  /** Starts counting a new engine.io connection's queue; called on the engine's `connection`. */
  watch(conn: EngineConnection): void {
    const queue: Queue = { waiting: 0, peak: 0, ended: false };
    this.#queues.set(conn, queue);
    conn.once('close', (reason: string) => {
      log.debug('lan transport closed', { address: conn.remoteAddress, connection: queue.connection, reason, peakQueuedBytes: queue.peak });
    });
    conn.on('flush', () => {
      queue.waiting = 0; // handed to the transport: from now on in the TCP socket's buffer
    });
    conn.on('packetCreate', (packet: { data?: unknown }) => {
      if (queue.ended) return;
      queue.waiting += packetBytes(packet);
      const queued = queue.waiting + (tcpSocket(conn)?.writableLength ?? 0);
      queue.peak = Math.max(queue.peak, queued);
      if (queued > this.bound) this.#end(conn, queue, queued);
    });
  }

  /** Names the Socket.IO connection on a transport, for the log. */
  label(socket: Socket): void {
    const queue = this.#queues.get(socket.conn);
    if (queue) queue.connection = socket.id;
  }

  #end(conn: EngineConnection, queue: Queue, queued: number): void {
    queue.ended = true;
    this.#ended++;
    log.warn('lan connection ended: it does not read what the agent sends', {
      address: conn.remoteAddress,
      connection: queue.connection,
      queuedBytes: queued,
      boundBytes: this.bound,
      endedSoFar: this.#ended,
    });
    const socket = tcpSocket(conn);
    if (socket) socket.destroy();
    else conn.close(true);
  }
}
