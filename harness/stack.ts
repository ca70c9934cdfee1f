/**
 * The whole Tether stack for end-to-end tests: the signaling server in-process, the agent as a
 * child process, the console renderer served on loopback and opened in headless Chromium, and the
 * test containers. `close()` tears everything down, containers included.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import type { Browser, Page } from 'playwright-core';
import { startAgent, type AgentProcess } from './agent-process.js';
import { launchChromium, newLoggedPage } from './browser.js';
import { ConsolePage } from './console-page.js';
import { startContainer, type ContainerOptions, type TestContainer } from './docker.js';
import { ensureRendererBuilt } from './renderer-build.js';
import { serveDirectory, type StaticServer } from './static-server.js';

const resultsDir = fileURLToPath(new URL('../test-results/', import.meta.url));

export interface Stack {
  signaling: { url: string; port: number; logs(): string[] };
  agent: AgentProcess;
  browser: Browser;
  page: Page;
  /** where the built renderer is served, e.g. http://localhost:41234 */
  baseUrl: string;
  consoleToken: string;
  /** the token the signaling server accepts from agents, for starting more agents */
  agentToken: string;
  /**
   * The agent flags that expose this stack's containers and no others (`tether.vplc=true` and the
   * stack's own `tether.stack` label): for a test's further agents, so that containers of test
   * files running beside it never appear in its device lists and move the rows it clicks.
   */
  exposeArgs: string[];
  /** Loads the console page (test hooks on; the bench's too with `bench`) connected to this stack's signaling server. */
  openConsole(options?: { bench?: boolean }): Promise<ConsolePage>;
  /** Starts a test container that `close()` removes, labelled for this stack (and `tether.vplc=true` unless `labels` are given). */
  startContainer(options?: ContainerOptions): Promise<TestContainer>;
  /** Wraps a test body: on failure, saves a screenshot and the logs into test-results/. */
  guarded(name: string, body: () => Promise<void>): () => Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** used in the agent's id and name, and in file names of failure dumps */
  name: string;
  /** more flags for the agent, e.g. `--max-sessions-per-container 0` */
  agentArgs?: string[];
  /** flags for node itself, e.g. the V8 flags of the shipped systemd unit */
  agentNodeArgs?: string[];
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const suffix = randomBytes(3).toString('hex');
  const consoleToken = `console-${randomBytes(12).toString('hex')}`;
  const agentToken = `agent-${randomBytes(12).toString('hex')}`;
  const signalingLog: string[] = [];
  const pageLog: string[] = [];
  const containers: TestContainer[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const stackLabel = `e2e-${options.name}-${suffix}`;
  const exposeArgs = ['--label', 'tether.vplc=true', '--label', `tether.stack=${stackLabel}`];

  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`stack teardown step failed: ${String(error)}`);
      }
    }
  };

  try {
    const dist = await ensureRendererBuilt();
    const signaling = await startSignalingServer({
      port: 0,
      host: '127.0.0.1',
      consoleTokens: [consoleToken],
      agentTokens: [agentToken],
      logger: createJsonLogger({ level: 'debug', write: (line) => signalingLog.push(line) }),
    });
    cleanups.push(() => signaling.close());
    const web: StaticServer = await serveDirectory(dist);
    cleanups.push(() => web.close());
    const agent = await startAgent({
      signalingUrl: signaling.url,
      token: agentToken,
      agentId: `e2e-${options.name}-${suffix}`,
      name: `agent ${options.name}`,
      extraArgs: [...exposeArgs, ...(options.agentArgs ?? [])],
      ...(options.agentNodeArgs ? { nodeArgs: options.agentNodeArgs } : {}),
    });
    cleanups.push(() => agent.stop());
    cleanups.push(async () => {
      await Promise.all(containers.map((c) => c.remove()));
    });
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const page = await newLoggedPage(browser, pageLog);

    const dumpFailure = async (testName: string, error: unknown) => {
      mkdirSync(resultsDir, { recursive: true });
      const base = `${resultsDir}${options.name}-${testName.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
      try {
        await page.screenshot({ path: `${base}.png`, fullPage: true });
      } catch (shotError) {
        pageLog.push(`[screenshot failed] ${String(shotError)}`);
      }
      const report = [
        `test: ${testName}`,
        `error: ${error instanceof Error ? error.stack : String(error)}`,
        '--- agent log ---',
        ...agent.logs().slice(-400),
        '--- signaling log ---',
        ...signalingLog.slice(-200),
        '--- page log ---',
        ...pageLog.slice(-200),
      ].join('\n');
      writeFileSync(`${base}.log`, report);
      console.error(
        `\n[${testName}] failed; screenshot and logs in ${base}.{png,log}. Agent log tail:\n${agent.logs().slice(-60).join('\n')}\n--- page log tail ---\n${pageLog.slice(-30).join('\n')}`,
      );
    };

    return {
      signaling: { url: signaling.url, port: signaling.port, logs: () => [...signalingLog] },
      agent,
      browser,
      page,
      baseUrl: web.url,
      consoleToken,
      agentToken,
      async openConsole({ bench = false } = {}) {
        const query = new URLSearchParams({ signal: signaling.url, token: consoleToken, test: '1', ...(bench ? { bench: '1' } : {}) });
        await page.goto(`${web.url}/index.html?${query.toString()}`);
        await page.waitForFunction(() => 'window' in globalThis && '__tetherTest' in window, undefined, { timeout: 15_000 });
        return new ConsolePage(page);
      },
      exposeArgs,
      async startContainer(containerOptions = {}) {
        const labels = { ...(containerOptions.labels ?? { 'tether.vplc': 'true' }), 'tether.stack': stackLabel };
        const container = await startContainer({ ...containerOptions, labels });
        containers.push(container);
        return container;
      },
      guarded(name, body) {
        return async () => {
          try {
            await body();
          } catch (error) {
            await dumpFailure(name, error);
            throw error;
          }
        };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
