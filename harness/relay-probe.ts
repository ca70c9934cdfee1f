/**
 * The signaling load bench's relay probe, in a child process of its own: one console and one agent
 * that do nothing else, as a field engineer's console and an agent are, so that the relay's
 * latency is the signaling tier's and not the wait of a process busy with the bench's ten consoles
 * and their presence (they once shared the bench's loop, whose own delay p99 of 24–26 ms on a quiet
 * machine was most of the relay's 28–32 ms).
 *
 * The console sends a candidate every `intervalMs` for the agent's session; each sample is the time
 * until the agent got it. `startRelayProbe()` forks this file; the child runs the commands it is sent.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { forkCommandChild } from './command-child.js';
import { io, type Socket } from 'socket.io-client';

export interface RelayProbeOptions {
  /** the console's node */
  consoleUrl: string;
  /** the agent's node (another one, to cross Redis) */
  agentUrl: string;
  consoleToken: string;
  agentToken: string;
  intervalMs: number;
}

export interface RelaySamples {
  /** ms from the console's emit to the agent's receipt, one per candidate that arrived */
  samples: number[];
  /** the probe process's own event-loop delay p99 while it measured (ms): what the samples could not help including */
  probeEventLoopDelayP99Ms: number;
}

type Command = { kind: 'connect'; options: RelayProbeOptions } | { kind: 'measure' } | { kind: 'stop' } | { kind: 'exit' };
type Report = { kind: 'ready' } | ({ kind: 'samples' } & RelaySamples) | { kind: 'error'; message: string };

/** The resolution the probe and the bench sample their own loops at. */
export const LOOP_MONITOR_MS = 10;

/**
 * A loop's delay p99 (ms) from `monitorEventLoopDelay({ resolution: LOOP_MONITOR_MS })`: the
 * monitor records each tick's whole interval (an idle loop reads 10.2 ms), the delay is what
 * exceeds it.
 */
export function loopDelayP99Ms(histogram: IntervalHistogram): number {
  return Math.max(0, histogram.percentile(99) / 1e6 - LOOP_MONITOR_MS);
}

const SESSION_ID = 'load-probe-0001';
const AGENT_ID = 'load-probe';

export interface RelayProbe {
  /** Connects the console and the agent and opens the session; resolves once the relay carries it. */
  connect(options: RelayProbeOptions): Promise<void>;
  /** Starts sending a candidate every `intervalMs`. */
  measure(): void;
  /** Stops sending; the samples so far. */
  stop(): Promise<RelaySamples>;
  close(): Promise<void>;
}

const self = fileURLToPath(import.meta.url);

export function startRelayProbe(): RelayProbe {
  const child = forkCommandChild<Command, Report>(self, '--relay-probe', 'relay probe');
  const { next, send } = child;
  return {
    async connect(options) {
      const ready = next('ready');
      send({ kind: 'connect', options });
      await ready;
    },
    measure() {
      send({ kind: 'measure' });
    },
    async stop() {
      const samples = next('samples');
      send({ kind: 'stop' });
      const { samples: ms, probeEventLoopDelayP99Ms } = await samples;
      return { samples: ms, probeEventLoopDelayP99Ms };
    },
    async close() {
      if (child.running) send({ kind: 'exit' });
      await child.exited();
    },
  };
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

/** The child. */
function runProbe(): void {
  const report = (r: Report) => process.send?.(r);
  const sockets: Socket[] = [];
  const samples: number[] = [];
  const sent = new Map<number, number>();
  const delay = monitorEventLoopDelay({ resolution: LOOP_MONITOR_MS });
  let timer: NodeJS.Timeout | undefined;
  let probeConsole: Socket | undefined;
  let intervalMs = 0;
  let n = 0;

  process.on('message', (command: Command) => {
    if (command.kind === 'connect') {
      void (async () => {
        const { options } = command;
        intervalMs = options.intervalMs;
        const agent = io(options.agentUrl, {
          auth: { role: 'agent', token: options.agentToken, agentId: AGENT_ID, name: 'probe', version: 'bench' },
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
        });
        sockets.push(agent);
        agent.on('webrtc:ice', (msg: { candidate: { candidate: string } | null }) => {
          const id = Number(msg.candidate?.candidate.split(' ')[1]);
          const at = sent.get(id);
          if (at !== undefined) samples.push(performance.now() - at);
          sent.delete(id);
        });
        await connected(agent);
        const consoleSocket = io(options.consoleUrl, {
          auth: { role: 'console', token: options.consoleToken },
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
        });
        sockets.push(consoleSocket);
        await connected(consoleSocket);
        probeConsole = consoleSocket;
        // Across Redis the console's node may learn of the agent a moment after it connected.
        for (let attempt = 0; ; attempt++) {
          const answer = (await consoleSocket
            .timeout(10_000)
            .emitWithAck('webrtc:offer', { sessionId: SESSION_ID, agentId: AGENT_ID, sdp: 'v=0\r\n' })) as { ok: boolean };
          if (answer.ok) break;
          if (attempt === 50) throw new Error(`probe offer refused: ${JSON.stringify(answer)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        report({ kind: 'ready' });
      })().catch((error: unknown) => report({ kind: 'error', message: String(error) }));
    } else if (command.kind === 'measure') {
      delay.enable();
      timer = setInterval(() => {
        const id = n++;
        sent.set(id, performance.now());
        probeConsole?.emit('webrtc:ice', {
          sessionId: SESSION_ID,
          candidate: { candidate: `candidate:1 ${id} udp 1 127.0.0.1 9 typ host` },
        });
      }, intervalMs);
    } else if (command.kind === 'stop') {
      clearInterval(timer);
      delay.disable();
      report({ kind: 'samples', samples: samples.splice(0), probeEventLoopDelayP99Ms: loopDelayP99Ms(delay) });
      delay.reset();
    } else {
      for (const socket of sockets) socket.disconnect();
      process.exit(0);
    }
  });
}

if (process.argv.includes('--relay-probe')) runProbe();
