/**
 * The "one address" in front of several signaling nodes, as a load balancer would be: a TCP proxy
 * on loopback that gives each new connection to a live backend. A backend is live when its
 * `/healthz` answers 200 (a node that lost Redis answers 503, a dead one not at all). Connections
 * are not moved: when a backend dies, its connections close and the clients connect again, to
 * another backend. Socket.IO clients must use the websocket transport (one TCP connection).
 */
import { get } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface Backend {
  host: string;
  port: number;
}

export interface TcpFront {
  url: string;
  port: number;
  /** Which backend each connection went to, in order (index into the backend list). */
  readonly choices: number[];
  /** Sends new connections to this backend first while it is live; undefined: round robin. */
  prefer(index: number | undefined): void;
  close(): Promise<void>;
}

const HEALTH_TIMEOUT_MS = 1000;

function healthy(backend: Backend): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: backend.host, port: backend.port, path: '/healthz', timeout: HEALTH_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

export async function startTcpFront(backends: Backend[]): Promise<TcpFront> {
  const sockets = new Set<Socket>();
  const choices: number[] = [];
  let preferred: number | undefined;
  let next = 0;

  const order = (): number[] => {
    const start = preferred ?? next++ % backends.length;
    return backends.map((_, i) => (start + i) % backends.length);
  };

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    void (async () => {
      for (const index of order()) {
        const backend = backends[index];
        if (!backend || !(await healthy(backend))) continue;
        if (client.destroyed) return;
        const upstream = connect(backend.port, backend.host);
        const connected = await new Promise<boolean>((resolve) => {
          upstream.once('connect', () => resolve(true));
          upstream.once('error', () => resolve(false));
        });
        if (!connected || client.destroyed) {
          upstream.destroy();
          if (client.destroyed) return;
          continue;
        }
        sockets.add(upstream);
        upstream.on('error', () => upstream.destroy());
        upstream.on('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
        choices.push(index);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        return;
      }
      client.destroy();
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    choices,
    prefer: (index) => (preferred = index),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
