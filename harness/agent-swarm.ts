/**
 * Many simulated agents in a child process of their own, for the fleet test and the signaling load
 * bench: each a socket.io-client connection speaking the documented protocol (the handshake's agent
 * `auth`, nothing else), so that the process that measures (consoles, Chromium) is not the one
 * busy with ten thousand sockets. A refused handshake is tried again as the agent does
 * (`reconnectDelayMs`, honouring `retryAfterMs`).
 *
 * `startAgentSwarm()` forks this file; the child runs the commands it is sent.
 */
import { fileURLToPath } from 'node:url';
import { forkCommandChild } from './command-child.js';
import { io, type Socket } from 'socket.io-client';
import { reconnectDelayMs, SignalingErrorPayload } from '@tether/protocol';

type Command =
  | { kind: 'connect'; urls: string[]; token: string; prefix: string; count: number; parallel: number }
  | { kind: 'disconnect'; count: number }
  | { kind: 'exit' };

type Report =
  | { kind: 'connected'; count: number; ms: number; refusals: number }
  | { kind: 'disconnected'; count: number }
  | { kind: 'error'; message: string };

/** A swarm of agents in a child process. */
export interface AgentSwarm {
  /** Connects `count` more agents (ids `<prefix><n>`) to `urls` in turn; resolves once all are connected. */
  connect(options: {
    urls: string[];
    token: string;
    prefix: string;
    count: number;
    parallel?: number;
  }): Promise<{ ms: number; refusals: number }>;
  /** Closes the transports of the `count` agents connected first, at once, as a site's uplink failing would. */
  disconnect(count: number): Promise<void>;
  readonly pid: number;
  stop(): Promise<void>;
}

const self = fileURLToPath(import.meta.url);

export function startAgentSwarm(): AgentSwarm {
  const child = forkCommandChild<Command, Report>(self, '--swarm', 'agent swarm');
  const { next, send } = child;
  return {
    pid: child.pid,
    async connect(options) {
      const done = next('connected');
      send({ kind: 'connect', parallel: 200, ...options });
      const report = await done;
      return { ms: report.ms, refusals: report.refusals };
    },
    async disconnect(count) {
      const done = next('disconnected');
      send({ kind: 'disconnect', count });
      await done;
    },
    async stop() {
      if (child.running) send({ kind: 'exit' });
      await child.exited();
    },
  };
}

/** The child: keeps its sockets and runs each command. */
function runSwarm(): void {
  const sockets: Socket[] = [];
  const report = (r: Report) => process.send?.(r);

  const connectOne = (url: string, token: string, agentId: string, counters: { refusals: number }) =>
    new Promise<Socket>((resolve) => {
      const socket = io(url, {
        auth: { role: 'agent', token, agentId, name: `swarm ${agentId}`, version: 'bench' },
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
      });
      let attempt = 0;
      socket.on('connect', () => resolve(socket));
      socket.on('connect_error', (error: Error & { data?: unknown }) => {
        counters.refusals++;
        const refusal = SignalingErrorPayload.safeParse(error.data);
        setTimeout(() => socket.connect(), reconnectDelayMs(attempt++, refusal.success ? refusal.data.retryAfterMs : undefined));
      });
    });

  process.on('message', (command: Command) => {
    if (command.kind === 'connect') {
      void (async () => {
        const started = performance.now();
        const counters = { refusals: 0 };
        const base = sockets.length;
        let next = 0;
        const worker = async () => {
          while (next < command.count) {
            const n = next++;
            const url = command.urls[n % command.urls.length]!;
            sockets.push(await connectOne(url, command.token, `${command.prefix}${base + n}`, counters));
          }
        };
        await Promise.all(Array.from({ length: Math.min(command.parallel, command.count) }, worker));
        report({ kind: 'connected', count: sockets.length, ms: performance.now() - started, refusals: counters.refusals });
      })().catch((error: unknown) => report({ kind: 'error', message: String(error) }));
    } else if (command.kind === 'disconnect') {
      const gone = sockets.splice(0, command.count);
      // The transport closed without Socket.IO's disconnect packet: what a lost uplink looks like.
      for (const socket of gone) socket.io.engine.close();
      report({ kind: 'disconnected', count: gone.length });
    } else {
      for (const socket of sockets) socket.io.engine.close();
      process.exit(0);
    }
  });
}

if (process.argv.includes('--swarm')) runSwarm();
