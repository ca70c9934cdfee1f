/**
 * The soak's phases. Each returns what it did and the errors it met; the caller checks for leaks
 * afterwards. Consoles send `close` for every terminal, as the console does, except in `drop`.
 */
import type { PairedAgent } from '@tether/protocol';
import type { Werift } from '../../harness/patched-werift.js';
import type { TestConsole } from '../../harness/werift-console.js';
import { SoakPeer, type SoakTerminal } from './soak-console.js';

export interface Enrolled {
  console: TestConsole;
  agent: PairedAgent;
}

export interface PhaseOutcome {
  /** cycles done, or ticks (commands answered) */
  work: number;
  errors: string[];
  /** ms per cycle or per command round trip */
  latenciesMs: number[];
  extra: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

function record(outcome: PhaseOutcome, where: string, error: unknown): void {
  if (outcome.errors.length < 50) outcome.errors.push(`${where}: ${describe(error)}`);
  else outcome.extra.moreErrors = (outcome.extra.moreErrors ?? 0) + 1;
}

/** One cycle: a terminal opened, its prompt, one command echoed back, `close`. */
async function cycle(peer: SoakPeer, target: string, n: number): Promise<void> {
  const term = await peer.terminal(target);
  try {
    await term.prompt();
    await term.run(`echo cycle-${n}-$((${n}*7))`, `cycle-${n}-${n * 7}`);
  } finally {
    await term.close();
  }
}

export interface CycleOptions {
  cycles: number;
  concurrency: number;
  /** a fresh peer connection after this many cycles */
  cyclesPerPeer: number;
  log: (line: string) => void;
}

export async function openCloseCycles(w: Werift, consoles: Enrolled[], targets: string[], o: CycleOptions): Promise<PhaseOutcome> {
  const outcome: PhaseOutcome = { work: 0, errors: [], latenciesMs: [], extra: { peers: 0 } };
  let next = 0;
  const worker = async (index: number) => {
    const enrolled = consoles[index % consoles.length]!;
    let peer: SoakPeer | undefined;
    let onPeer = 0;
    for (let n = next++; n < o.cycles; n = next++) {
      try {
        if (!peer || onPeer >= o.cyclesPerPeer) {
          await peer?.close();
          peer = await SoakPeer.connect(w, enrolled.console, enrolled.agent);
          outcome.extra.peers! += 1;
          onPeer = 0;
        }
        onPeer += 1;
        const t0 = performance.now();
        await cycle(peer, targets[n % targets.length]!, n);
        outcome.latenciesMs.push(performance.now() - t0);
        outcome.work += 1;
        if (outcome.work % 100 === 0) o.log(`${outcome.work}/${o.cycles} cycles, ${outcome.errors.length} errors`);
      } catch (error) {
        record(outcome, `cycle ${n}`, error);
        await peer?.close().catch((e: unknown) => record(outcome, `closing the peer after cycle ${n}`, e));
        peer = undefined;
      }
    }
    await peer?.close();
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => worker(i)));
  return outcome;
}

export interface BusyOptions {
  sessions: number;
  peers: number;
  durationMs: number;
  /** mean pause between two commands of one session */
  intervalMs: number;
  log: (line: string) => void;
  /** called every few seconds while the sessions run (e.g. to sample the agent) */
  sample: () => Promise<void>;
}

/** `sessions` terminals over `peers` peer connections, each typing a command every `intervalMs` until the time is up. */
export async function busySessions(w: Werift, consoles: Enrolled[], targets: string[], o: BusyOptions): Promise<PhaseOutcome> {
  const outcome: PhaseOutcome = { work: 0, errors: [], latenciesMs: [], extra: { bytesReceived: 0, sessionsOpened: 0 } };
  const peers: SoakPeer[] = [];
  for (let p = 0; p < o.peers; p++) {
    const enrolled = consoles[p % consoles.length]!;
    // One retry: a connection that fails under load is an error, but the phase goes on.
    for (let attempt = 1; attempt <= 2 && peers.length === p; attempt++) {
      try {
        peers.push(await SoakPeer.connect(w, enrolled.console, enrolled.agent));
      } catch (error) {
        record(outcome, `connecting peer ${p} (attempt ${attempt})`, error);
      }
    }
  }
  if (peers.length === 0) return outcome;
  const terms: SoakTerminal[] = [];
  for (let s = 0; s < o.sessions; s++) {
    try {
      const term = await peers[s % peers.length]!.terminal(targets[s % targets.length]!);
      await term.prompt();
      terms.push(term);
    } catch (error) {
      record(outcome, `opening session ${s}`, error);
    }
  }
  outcome.extra.sessionsOpened = terms.length;
  o.log(`${terms.length} sessions open on ${peers.length} peer connections; busy for ${Math.round(o.durationMs / 1000)} s`);
  const deadline = Date.now() + o.durationMs;
  const session = async (term: SoakTerminal, s: number) => {
    for (let tick = 0; Date.now() < deadline; tick++) {
      await sleep(o.intervalMs * (0.5 + Math.random()));
      if (Date.now() >= deadline) break;
      // Every tenth command prints 16 KiB (half an ack batch), the others one short line.
      const [command, marker] =
        tick % 10 === 9
          ? [`head -c 16384 /dev/zero | tr '\\0' x; echo; echo burst-${s}-${tick}-$((${tick}+1))`, `burst-${s}-${tick}-${tick + 1}`]
          : [`echo tick-${s}-${tick}-$((${tick}*3))`, `tick-${s}-${tick}-${tick * 3}`];
      const t0 = performance.now();
      try {
        await term.run(command, marker);
        outcome.latenciesMs.push(performance.now() - t0);
        outcome.work += 1;
      } catch (error) {
        record(outcome, `session ${s} tick ${tick}`, error);
        if (term.closed) return;
      }
    }
  };
  const sampler = (async () => {
    while (Date.now() < deadline) {
      await sleep(Math.min(15_000, Math.max(0, deadline - Date.now())));
      await o.sample().catch((e: unknown) => record(outcome, 'sampling the agent', e));
      o.log(
        `${outcome.work} commands answered, ${outcome.errors.length} errors, ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left`,
      );
    }
  })();
  await Promise.all([...terms.map((t, s) => session(t, s)), sampler]);
  outcome.extra.bytesReceived = terms.reduce((sum, t) => sum + t.received, 0);
  await Promise.all(terms.map((t, s) => t.close().catch((e: unknown) => record(outcome, `closing session ${s}`, e))));
  await Promise.all(peers.map((p) => p.close()));
  return outcome;
}

/** Terminals whose peer connection is closed without `close`: the agent keeps them for its resume grace, then must end them. */
export async function droppedSessions(w: Werift, consoles: Enrolled[], targets: string[], sessions: number): Promise<PhaseOutcome> {
  const outcome: PhaseOutcome = { work: 0, errors: [], latenciesMs: [], extra: {} };
  const enrolled = consoles[0]!;
  const peer = await SoakPeer.connect(w, enrolled.console, enrolled.agent);
  for (let s = 0; s < sessions; s++) {
    try {
      const term = await peer.terminal(targets[s % targets.length]!);
      await term.prompt();
      // A long-running command, as a shell left behind usually has one.
      await term.run(`sleep 100000 & echo dropped-${s}-$((${s}+5))`, `dropped-${s}-${s + 5}`);
      outcome.work += 1;
    } catch (error) {
      record(outcome, `opening session ${s}`, error);
    }
  }
  await peer.drop();
  return outcome;
}
