import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_SIGNALING_PAYLOAD_BYTES } from '@tether/protocol';
import { Server, type ExtendedError } from 'socket.io';
import { createAuthenticator } from './auth.js';
import { CONSOLES_ROOM, type SignalingIo, type SignalingSocket } from './io-types.js';
import { createJsonLogger, isLogLevel, moduleName, type Logger } from './log.js';
import { AgentDirectory } from './presence.js';
import { Relay } from './relay.js';

export interface SignalingServerOptions {
  /** TCP port; 0 picks a free one (tests). */
  port?: number;
  /** Address to listen on; '0.0.0.0' by default. */
  host?: string;
  /** Shared secrets a console may present; at least one. */
  consoleTokens: readonly string[];
  /** Shared secrets an agent may present; at least one. */
  agentTokens: readonly string[];
  /** Origins allowed to connect from a web page; '*' by default (tokens, not cookies, authenticate). */
  corsOrigins?: readonly string[] | '*';
  /** Where logs go; by default JSON lines on stdout at the level in TETHER_LOG_LEVEL, else none. */
  logger?: Logger;
}

/** A running signaling server. */
export interface SignalingServer {
  /** Base URL for Socket.IO clients, e.g. `http://127.0.0.1:7300`. */
  url: string;
  port: number;
  /** Disconnects every client and stops listening. */
  close(): Promise<void>;
}

function defaultLogger(): Logger {
  const level = process.env['TETHER_LOG_LEVEL'];
  return createJsonLogger({ level: isLogLevel(level) ? level : 'silent' });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

function health(req: IncomingMessage, res: ServerResponse): void {
  // Socket.IO answers its own path; everything else is a health probe or a 404.
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  } else {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  }
}

export async function startSignalingServer(options: SignalingServerOptions): Promise<SignalingServer> {
  if (options.consoleTokens.length === 0 || options.agentTokens.length === 0) {
    throw new TypeError('startSignalingServer needs at least one console token and one agent token');
  }
  if ([...options.consoleTokens, ...options.agentTokens].some((token) => token.length === 0)) {
    throw new TypeError('startSignalingServer: tokens must not be empty');
  }
  const root = options.logger ?? defaultLogger();
  const log = root.child(moduleName(import.meta.url));
  const host = options.host ?? '0.0.0.0';
  const authenticate = createAuthenticator(options);

  const httpServer = createServer(health);
  const io: SignalingIo = new Server(httpServer, {
    maxHttpBufferSize: MAX_SIGNALING_PAYLOAD_BYTES,
    cors: { origin: options.corsOrigins === undefined || options.corsOrigins === '*' ? '*' : [...options.corsOrigins] },
    serveClient: false,
  });
  const agents = new AgentDirectory<SignalingSocket>();
  const relay = new Relay(io, agents, root);
  const broadcastPresence = () => io.to(CONSOLES_ROOM).emit('presence', { agents: agents.list() });

  io.use((socket, next) => {
    const outcome = authenticate(socket.handshake.auth);
    if (!outcome.ok) {
      log.warn('connection refused', { address: socket.handshake.address, reason: outcome.error.message });
      const error: ExtendedError = new Error(`UNAUTHORIZED: ${outcome.error.message}`);
      error.data = { code: 'UNAUTHORIZED', message: outcome.error.message };
      next(error);
      return;
    }
    socket.data.identity = outcome.value;
    next();
  });

  io.on('connection', (socket) => {
    const identity = socket.data.identity;
    const address = socket.handshake.address;
    if (identity.role === 'console') {
      log.info('console connected', { socketId: socket.id, address });
      void socket.join(CONSOLES_ROOM);
      relay.attachConsole(socket);
      socket.emit('presence', { agents: agents.list() });
      socket.on('disconnect', (reason) => log.info('console disconnected', { socketId: socket.id, reason }));
      return;
    }
    const { agentId, name, version } = identity;
    relay.attachAgent(socket);
    socket.on('disconnect', (reason) => {
      const wasCurrent = agents.remove(socket, agentId);
      log.info('agent disconnected', { socketId: socket.id, agentId, reason });
      if (wasCurrent) broadcastPresence();
    });
    const replaced = agents.add(socket, { agentId, name, version });
    log.info('agent connected', { socketId: socket.id, agentId, name, version, address });
    if (replaced) {
      log.warn('agent replaced by a newer connection', { agentId, oldSocketId: replaced.id, socketId: socket.id });
      replaced.emit('signal:error', {
        code: 'FORBIDDEN',
        message: `a newer connection with agentId ${agentId} replaced this one`,
      });
      replaced.disconnect(true);
    }
    broadcastPresence();
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => httpServer.once('close', () => resolve()));
      await io.close();
      httpServer.closeAllConnections();
      await closed;
      log.info('signaling closed', { url });
    })();
    return closing;
  };
  return { url, port, close };
}
