/**
 * The console page's side of the bench: drives the measurement hooks of renderer/src/bench-hooks.ts
 * (`window.__tetherTest`, page opened with test=1&bench=1) and verifies what arrived.
 */
import type { ConsolePage } from '../harness/console-page.js';

/** The file that the throughput runs `cat`, as the container measured it. */
export interface BenchFile {
  path: string;
  bytes: number;
  sha256: string;
}

interface StreamResult {
  ok: boolean;
  ms: number;
  received: number;
  error?: string;
}

interface EchoResult {
  samples: number[];
  error?: string;
}

export interface PromptTiming {
  ok: boolean;
  /** ms from creating the connection to: signaling, ice, secure-channel, ready, opened, firstByte */
  stages: Record<string, number | undefined>;
  error?: string;
}

export interface ResumeTiming {
  ok: boolean;
  /** ms from dropping the path to: the tab reconnecting, the new connection ready, the shell resumed */
  reconnectingMs?: number;
  readyMs?: number;
  resumedMs?: number;
  error?: string;
}

const BEGIN = 'BENCHBEGIN';
const END = 'BENCHEND';
const STALL_MS = 15_000;
const STREAM_TIMEOUT_MS = 120_000;

export class RendererBench {
  constructor(
    private readonly ui: ConsolePage,
    private readonly agentId: string,
    private readonly target: string,
  ) {}

  private hook<T>(name: string, ...args: unknown[]): Promise<T> {
    return this.ui.page.evaluate(
      ([hook, hookArgs]) => {
        const hooks = (window as unknown as { __tetherTest?: Record<string, (...a: unknown[]) => unknown> }).__tetherTest;
        const fn = hooks?.[hook as string];
        if (!fn) throw new Error(`window.__tetherTest.${String(hook)} is missing (was the page opened with test=1&bench=1?)`);
        return fn(...(hookArgs as unknown[]));
      },
      [name, args] as const,
    ) as Promise<T>;
  }

  /** A new tab on the target, once its shell has printed its prompt. */
  async openTab(): Promise<string> {
    const tabId = await this.ui.openTab(this.agentId, this.target);
    await this.ui.waitOpened(tabId);
    await this.ui.waitForPrompt(tabId);
    return tabId;
  }

  closeTab(tabId: string): Promise<void> {
    return this.hook('closeTab', tabId);
  }

  /**
   * MB/s (10^6 bytes of file content) of `cat file` in a fresh tab, through xterm.js (`xterm`) or
   * counted on arrival (`count`); throws when the run stalls or the bytes differ from the file.
   */
  async throughput(file: BenchFile, sink: 'xterm' | 'count'): Promise<number> {
    const tabId = await this.openTab();
    try {
      await this.ui.capture(tabId, true);
      // The shell joins the quotes away, so the echoed command line never holds a marker.
      const command = `echo ${BEGIN.slice(0, 5)}""${BEGIN.slice(5)}; cat ${file.path}; echo ${END.slice(0, 5)}""${END.slice(5)}`;
      const run = await this.hook<StreamResult>('stream', tabId, {
        command,
        endMarker: END,
        sink,
        stallMs: STALL_MS,
        timeoutMs: STREAM_TIMEOUT_MS,
      });
      await this.ui.capture(tabId, false);
      if (!run.ok) throw new Error(`${sink} run failed: ${run.error}`);
      const digest = await this.ui.capturedSha256NoCR(tabId, BEGIN, END);
      if (!digest.found) throw new Error(`${sink} run: a marker is missing from the captured output`);
      if (digest.length !== file.bytes || digest.sha256 !== file.sha256) {
        throw new Error(
          `${sink} run: verification failed, ${digest.length} bytes with SHA-256 ${digest.sha256.slice(0, 12)}… ` +
            `between the markers, expected ${file.bytes} bytes with ${file.sha256.slice(0, 12)}…`,
        );
      }
      return file.bytes / 1e6 / (run.ms / 1000);
    } finally {
      await this.closeTab(tabId);
    }
  }

  /** Round trips (ms) of single keystrokes echoed by the TTY of `cat` in a fresh tab. */
  async echo(samples: number): Promise<number[]> {
    const tabId = await this.openTab();
    try {
      const result = await this.hook<EchoResult>('echo', tabId, samples);
      if (result.error) throw new Error(`echo stopped after ${result.samples.length} samples: ${result.error}`);
      return result.samples;
    } finally {
      await this.closeTab(tabId);
    }
  }

  /** Drops the path under `tabId` from the console's side and times until its shell is taken back. */
  timeToResume(tabId: string, timeoutMs = 30_000): Promise<ResumeTiming> {
    return this.hook<ResumeTiming>('timeToResume', tabId, timeoutMs);
  }

  /** One fresh connection to the agent, timed from its creation to the first byte of a terminal. */
  timeToPrompt(timeoutMs = 30_000): Promise<PromptTiming> {
    return this.hook<PromptTiming>('timeToPrompt', this.agentId, this.target, timeoutMs);
  }
}
