import type { IncomingMessage } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import type { Socket } from 'socket.io';
import type { BoundsLogFields, BoundsLogger } from './logger.js';
import type { EngineConnection } from './outbound-limit.js';

/**
 * socket.io-parser's packet types for a binary event and a binary ack: the first character of the
 * text frame that heads them (socket.io protocol v5).
 */
const BINARY_PACKET_TYPES = new Set(['5', '6']);

/** What an engine.io packet brings in: its data's length. */
function inboundBytes(packet: { data?: unknown }): number {
  const { data } = packet;
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** Whether an inbound engine.io packet is, or heads, a Socket.IO binary packet. */
function isBinaryPacket(packet: { type?: string; data?: unknown }): boolean {
  if (packet.type !== 'message') return false;
  return typeof packet.data !== 'string' || BINARY_PACKET_TYPES.has(packet.data.charAt(0));
}

/**
 * What the bound logs, in the words of the server that uses it: each server's operators (and tests)
 * search its log for their own messages.
 */
export interface InboundWords {
  /** logged (warn) when a transport is ended, with `{ address, reason, receivedBytes, endedSoFar }` */
  ended: string;
  /** logged (warn) when an upgrade is refused for the address's handshakes, with `{ address, limit }` */
  refused: string;
}

export interface InboundLimitOptions {
  log: BoundsLogger;
  /**
   * Until a Socket.IO connection on a transport is admitted: the bytes it may send (every frame,
   * counted before Socket.IO decodes it) and how long it may take, in milliseconds.
   */
  handshake: { bytes: number; ms: number };
  /** Transports one address may have waiting for admission at once; more are refused at the upgrade. 0: no limit. */
  handshakesPerAddress: number;
  words: InboundWords;
}

interface Transport {
  address: string;
  received: number;
  admitted: boolean;
  ended: boolean;
  /** the TCP socket under the WebSocket, kept here: the upgrade request that holds it may be released */
  tcp: NetSocket | undefined;
  deadline: NodeJS.Timeout | undefined;
  /** gives back the address's handshake slot, once however often it is called */
  release: () => void;
}

/**
 * Bounds what a Socket.IO server holds for what a client sends it, above all before the client
 * authenticates (docs/hardening.md, "before authentication"):
 *
 * - **Binary packets end the transport**, at any time. Neither Tether server has a binary event,
 *   and socket.io-parser keeps an incomplete binary packet's header and attachments (up to ten
 *   frames of `maxHttpBufferSize`) until the last one arrives, for as long as the transport lives:
 *   hundreds of transports that announce ten and send nine held hundreds of MB. The header's text
 *   frame and every binary frame are caught before Socket.IO decodes them.
 * - **Before admission**, a transport may send `handshake.bytes` in all and must have a Socket.IO
 *   connection admitted within `handshake.ms` (Socket.IO's own limit is 45 s); past either it is
 *   ended.
 * - **Per address**, at most `handshakesPerAddress` transports may wait for admission at once; one
 *   more is refused at the WebSocket upgrade (HTTP 403), before engine.io holds anything for it.
 *
 * Ending a transport closes it without waiting for its queue (which frees what Socket.IO decoded
 * for it at once) and destroys its TCP socket. Other transports are not affected.
 */
export class InboundLimit {
  readonly #log: BoundsLogger;
  readonly #handshake: InboundLimitOptions['handshake'];
  readonly #perAddress: number;
  readonly #words: InboundWords;
  readonly #transports = new WeakMap<EngineConnection, Transport>();
  /** transports waiting for admission, per address */
  readonly #waiting = new Map<string, number>();
  #ended = 0;

  constructor(options: InboundLimitOptions) {
    this.#log = options.log;
    this.#handshake = options.handshake;
    this.#perAddress = options.handshakesPerAddress;
    this.#words = options.words;
  }

  /** For engine.io's `allowRequest`: undefined when the address may start one more handshake, else why not. */
  refusedTransport(req: IncomingMessage): string | undefined {
    if (this.#perAddress === 0) return undefined;
    const address = req.socket.remoteAddress ?? '';
    if ((this.#waiting.get(address) ?? 0) < this.#perAddress) return undefined;
    this.#log.warn(this.#words.refused, { address, limit: this.#perAddress });
    return `too many connections from ${address} waiting to authenticate`;
  }

  /** Starts bounding a new engine.io connection; called on the engine's `connection`. */
  watch(conn: EngineConnection): void {
    const address = conn.remoteAddress;
    this.#waiting.set(address, (this.#waiting.get(address) ?? 0) + 1);
    let released = false;
    const transport: Transport = {
      address,
      received: 0,
      admitted: false,
      ended: false,
      tcp: (conn.request as { socket?: NetSocket } | undefined)?.socket,
      deadline: undefined,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#waiting.get(address) ?? 1) - 1;
        if (left > 0) this.#waiting.set(address, left);
        else this.#waiting.delete(address);
      },
    };
    this.#transports.set(conn, transport);
    transport.deadline = setTimeout(
      () => this.#end(conn, transport, `no connection admitted within ${this.#handshake.ms} ms`),
      this.#handshake.ms,
    );
    transport.deadline.unref();
    conn.once('close', () => {
      clearTimeout(transport.deadline);
      transport.release();
    });
    // Runs before Socket.IO's decoder: engine.io emits `packet` before `data`.
    conn.on('packet', (packet: { type?: string; data?: unknown }) => {
      if (transport.ended) return;
      if (isBinaryPacket(packet)) return this.#end(conn, transport, 'a binary packet (this server has no binary event)');
      if (transport.admitted) return;
      transport.received += inboundBytes(packet);
      if (transport.received > this.#handshake.bytes)
        this.#end(conn, transport, `more than ${this.#handshake.bytes} bytes before a connection was admitted`);
    });
  }

  /** A Socket.IO connection on the socket's transport was admitted (the server's `connection` event). */
  admitted(socket: Pick<Socket, 'conn'>): void {
    const transport = this.#transports.get(socket.conn);
    if (!transport || transport.admitted) return;
    transport.admitted = true;
    clearTimeout(transport.deadline);
    transport.release();
  }

  #end(conn: EngineConnection, transport: Transport, reason: string): void {
    transport.ended = true;
    this.#ended++;
    const fields: BoundsLogFields = { address: transport.address, reason, receivedBytes: transport.received, endedSoFar: this.#ended };
    this.#log.warn(this.#words.ended, fields);
    // Closed at once (discarding its queue): Socket.IO drops the transport's decoder, and with it
    // any partial packet. Then the TCP socket, so that a client that never answers the WebSocket
    // close holds nothing either.
    conn.close(true);
    transport.tcp?.destroy();
  }
}
