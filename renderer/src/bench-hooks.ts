/**
 * Measurements for `npm run bench` (bench/renderer-bench.ts), taken inside the page so that no
 * Playwright round trip lands inside a timed interval. Loaded by main.ts only with `bench=1`,
 * with a dynamic import, beside the test hooks (main.ts hands it their `dropPath`).
 */
import type { AgentConnection } from './connection/agent-connection';
import type { ConnectionStage } from './connection/connection-stage';
import type { ConsoleApp } from './app';
import type { Disposable } from './base/emitter';
import type { TerminalSession } from './session/terminal-session';
import { WebRtcTerminalSession } from './session/webrtc-terminal-session';
import type { PageTab as Tab } from './tabs/tab-set';

export interface StreamOptions {
  /** typed into the shell, followed by '\r' */
  command: string;
  /** printed by the shell on a line of its own after the data */
  endMarker: string;
  /** `xterm`: the product's path, done once the marker is parsed and acked; `count`: no xterm */
  sink: 'xterm' | 'count';
  /** fail when no output arrives for this long */
  stallMs: number;
  timeoutMs: number;
}

export interface StreamResult {
  ok: boolean;
  /** from sending the command to the end marker arriving (`count`) or being acked (`xterm`) */
  ms: number;
  /** output bytes received during the run, '\r' and markers included */
  received: number;
  error?: string;
}

export interface EchoResult {
  /** round trip of each keystroke, in order */
  samples: number[];
  error?: string;
}

/** Milliseconds from the start of a fresh connection to each step, and to the first output byte. */
export interface PromptTiming {
  ok: boolean;
  stages: Partial<Record<ConnectionStage['kind'] | 'opened' | 'firstByte', number>>;
  error?: string;
}

/** From a dropped path (test hook, no outage) to the tab's shell taken back, and the loss being noticed. */
export interface ResumeTiming {
  ok: boolean;
  /** drop → tab reconnecting, drop → first connection attempt ready, drop → `opened.resumed` */
  reconnectingMs?: number;
  readyMs?: number;
  resumedMs?: number;
  error?: string;
}

export interface BenchHooks {
  /** Runs `command` in the tab and times its output up to `endMarker`. */
  stream(tabId: string, options: StreamOptions): Promise<StreamResult>;
  /** Starts `cat` in the tab and times `samples` single keystrokes echoed by the TTY. */
  echo(tabId: string, samples: number): Promise<EchoResult>;
  /** Connects afresh to the agent, opens a terminal on `target`, waits for its first byte, tears down. */
  timeToPrompt(agentId: string, target: string, timeoutMs: number): Promise<PromptTiming>;
  /** Drops the tab's path (`dropPath` with no outage) and times the reconnection and the resume. */
  timeToResume(tabId: string, timeoutMs: number): Promise<ResumeTiming>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Scans output for `\n<marker>` across chunk boundaries, keeping only a short tail. */
class MarkerScanner {
  private readonly needle: Uint8Array;
  private tail = new Uint8Array(0);
  constructor(marker: string) {
    this.needle = new TextEncoder().encode(`\n${marker}`);
  }
  found(chunk: Uint8Array): boolean {
    const keep = this.needle.length - 1;
    const joined = new Uint8Array(this.tail.length + chunk.length);
    joined.set(this.tail);
    joined.set(chunk, this.tail.length);
    this.tail = joined.slice(Math.max(0, joined.length - keep));
    for (let at = joined.indexOf(0x0a); at >= 0 && at + this.needle.length <= joined.length; at = joined.indexOf(0x0a, at + 1)) {
      let j = 1;
      while (j < this.needle.length && joined[at + j] === this.needle[j]) j++;
      if (j === this.needle.length) return true;
    }
    return false;
  }
}

/** Resolves once `condition` holds, polling every few milliseconds; rejects after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

async function stream(tab: Tab, options: StreamOptions): Promise<StreamResult> {
  const { session } = tab;
  const view = tab.panel.view;
  const scanner = new MarkerScanner(options.endMarker);
  const before = view.stats.received;
  let lastOutput = performance.now();
  let endOffset = -1;
  let subscription: Disposable | undefined;
  const previousSink = view.sink;
  view.sink = options.sink;
  const t0 = performance.now();
  try {
    const arrived = new Promise<number>((resolve, reject) => {
      // Registered after the view's own listener, so the view has counted this chunk already.
      subscription = session.onOutput((bytes) => {
        lastOutput = performance.now();
        if (endOffset < 0 && scanner.found(bytes)) {
          endOffset = view.stats.received;
          resolve(performance.now());
        }
      });
      const watchdog = setInterval(() => {
        const idle = performance.now() - lastOutput;
        const total = performance.now() - t0;
        if (endOffset >= 0) clearInterval(watchdog);
        else if (idle > options.stallMs || total > options.timeoutMs || tab.state !== 'open') {
          clearInterval(watchdog);
          const received = view.stats.received - before;
          reject(
            new Error(
              `${tab.state !== 'open' ? `tab ${tab.state}` : idle > options.stallMs ? `stalled ${Math.round(idle)} ms` : 'timed out'} after ${received} bytes`,
            ),
          );
        }
      }, 250);
    });
    session.write(`${options.command}\r`);
    let t1 = await arrived;
    if (options.sink === 'xterm') {
      await until(() => view.stats.acked >= endOffset, options.timeoutMs, `acks up to byte ${endOffset}`);
      t1 = performance.now();
    }
    return { ok: true, ms: t1 - t0, received: view.stats.received - before };
  } catch (error) {
    session.write('\x03');
    return { ok: false, ms: performance.now() - t0, received: view.stats.received - before, error: String(error) };
  } finally {
    subscription?.dispose();
    view.sink = previousSink;
  }
}

/** Resolves when `session` has sent nothing for `quietMs`. */
async function quiet(session: TerminalSession, quietMs: number): Promise<void> {
  let last = performance.now();
  const subscription = session.onOutput(() => (last = performance.now()));
  try {
    while (performance.now() - last < quietMs) await sleep(20);
  } finally {
    subscription.dispose();
  }
}

async function echo(tab: Tab, samples: number): Promise<EchoResult> {
  const session = tab.session;
  const out: number[] = [];
  session.write('cat\r');
  await quiet(session, 300);
  try {
    for (let i = 0; i < samples; i++) {
      const code = 0x61 + (i % 26);
      let subscription: Disposable | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const echoed = new Promise<number>((resolve, reject) => {
        subscription = session.onOutput((bytes) => {
          if (bytes.includes(code)) resolve(performance.now());
        });
        timer = setTimeout(() => reject(new Error(`keystroke ${i} not echoed within 5 s`)), 5_000);
      });
      const t0 = performance.now();
      session.write(String.fromCharCode(code));
      try {
        out.push((await echoed) - t0);
      } finally {
        subscription?.dispose();
        clearTimeout(timer);
      }
    }
    return { samples: out };
  } catch (error) {
    return { samples: out, error: String(error) };
  } finally {
    session.write('\x03');
    await quiet(session, 200);
  }
}

async function timeToPrompt(app: ConsoleApp, agentId: string, target: string, timeoutMs: number): Promise<PromptTiming> {
  const stages: PromptTiming['stages'] = {};
  let connection: AgentConnection | undefined;
  let session: WebRtcTerminalSession | undefined;
  const subscriptions: Disposable[] = [];
  const t0 = performance.now();
  const mark = (name: keyof PromptTiming['stages']) => (stages[name] ??= performance.now() - t0);
  try {
    const conn = (connection = app.createConnection(agentId));
    const ready = new Promise<void>((resolve, reject) => {
      subscriptions.push(
        conn.onStage((stage) => {
          mark(stage.kind);
          if (stage.kind === 'ready') resolve();
          else if (stage.kind === 'failed') reject(new Error(stage.reason));
        }),
      );
    });
    void conn.connect();
    await withTimeout(ready, timeoutMs, 'the connection to be ready');
    const term = (session = new WebRtcTerminalSession({ target, carrier: conn }));
    const firstByte = new Promise<void>((resolve, reject) => {
      subscriptions.push(term.onOpened(() => mark('opened')));
      subscriptions.push(term.onOutput(() => resolve(void mark('firstByte'))));
      subscriptions.push(term.onError((error) => error.fatal && reject(new Error(`${error.code}: ${error.message}`))));
    });
    term.start();
    await withTimeout(firstByte, timeoutMs, 'the first output byte');
    return { ok: true, stages };
  } catch (error) {
    return { ok: false, stages, error: String(error) };
  } finally {
    for (const subscription of subscriptions) subscription.dispose();
    if (session) {
      const closed = new Promise<void>((resolve) => session?.onClosed(() => resolve()));
      session.close();
      await withTimeout(closed, 3_000, 'the session to close').catch((error: unknown) => console.warn(`[bench] ${String(error)}`));
    }
    connection?.dispose();
  }
}

async function timeToResume(app: ConsoleApp, dropPath: DropPath, tab: Tab, timeoutMs: number): Promise<ResumeTiming> {
  const before = tab.resumeInfo?.count ?? 0;
  const old = app.agents.connection(tab.agentId);
  const t0 = performance.now();
  const timing: ResumeTiming = { ok: false };
  try {
    if (!dropPath(tab.agentId, 0)) throw new Error('the agent has no ready connection');
    await until(
      () => {
        if (tab.state === 'reconnecting') timing.reconnectingMs ??= performance.now() - t0;
        const current = app.agents.connection(tab.agentId);
        if (current && current !== old && current.stage.kind === 'ready') timing.readyMs ??= performance.now() - t0;
        return (tab.resumeInfo?.count ?? 0) > before && tab.state === 'open';
      },
      timeoutMs,
      'the tab to resume',
    );
    timing.resumedMs = performance.now() - t0;
    timing.ok = true;
  } catch (error) {
    timing.error = String(error);
  }
  return timing;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Cuts the path to an agent, as the test hooks' `dropPath` does; false when it has no ready connection. */
export type DropPath = (agentId: string, outageMs: number) => boolean;

/** The bench's hooks, to add to `window.__tetherTest`. */
export function benchHooks(app: ConsoleApp, dropPath: DropPath): BenchHooks {
  const tab = (id: string) => {
    const found = app.tabs.get(id);
    if (!found) throw new Error(`no tab ${id}`);
    return found;
  };
  return {
    stream: (id, options) => stream(tab(id), options),
    echo: (id, samples) => echo(tab(id), samples),
    timeToPrompt: (agentId, target, timeoutMs) => timeToPrompt(app, agentId, target, timeoutMs),
    timeToResume: (id, timeoutMs) => timeToResume(app, dropPath, tab(id), timeoutMs),
  };
}
