/**
 * The parts of Tether, and coturn, started inside a TestNetwork's namespaces: coturn with the TURN
 * REST API secret, the signaling server from its sources, and headless Chromium whose console page
 * is served from renderer/dist by Playwright itself (so the console host needs no web server).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newLoggedPage, CHROMIUM_PATH } from './browser.js';
import { ConsolePage } from './console-page.js';
import { startInNetwork, type NetProcess } from './net-process.js';
import type { TestNetwork } from './netns.js';
import { ensureRendererBuilt } from './renderer-build.js';

const signalingCli = fileURLToPath(new URL('../signaling/src/cli.ts', import.meta.url));

export const TURN_PORT = 3478;
export const TURN_REALM = 'tether.test';

export interface Coturn extends NetProcess {
  /** `turn:<address>:3478?transport=udp` */
  url: string;
  address: string;
  port: number;
}

/**
 * coturn on the host's address with `use-auth-secret`: it accepts TURN REST API credentials made
 * with `secret`, and refuses expired ones. No TLS, DTLS or CLI; logs on stdout, in the run's folder.
 */
export async function startCoturn(net: TestNetwork, host: string, secret: string): Promise<Coturn> {
  const address = net.host(host).address;
  const dir = net.dir;
  const turn = await startInNetwork(
    net,
    host,
    'turnserver',
    [
      '-n', // no configuration file
      '--listening-ip',
      address,
      '--relay-ip',
      address,
      '--listening-port',
      String(TURN_PORT),
      '--min-port',
      '49152',
      '--max-port',
      '49999',
      '--use-auth-secret',
      '--static-auth-secret',
      secret,
      '--realm',
      TURN_REALM,
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-tcp-relay',
      '--log-file',
      'stdout',
      '--simple-log',
      '--verbose',
      '--pidfile',
      join(dir, `turnserver-${host}.pid`),
      '--userdb',
      join(dir, `turndb-${host}`),
      // coturn's default stale nonce (600 s) stays on: the agent's patched werift renews it.
    ],
    { ready: /Total General servers/, name: 'coturn' },
  );
  return { ...turn, url: `turn:${address}:${TURN_PORT}?transport=udp`, address, port: TURN_PORT };
}

export interface SignalingInNetwork extends NetProcess {
  /** e.g. http://10.99.0.2:7300 */
  url: string;
}

/** `tether-signaling` from its sources (tsx) on the host's address; `args` add to host, port and log level. */
export async function startSignaling(net: TestNetwork, host: string, port: number, args: readonly string[]): Promise<SignalingInNetwork> {
  const address = net.host(host).address;
  const signaling = await startInNetwork(
    net,
    host,
    process.execPath,
    ['--conditions=source', '--import', 'tsx', signalingCli, '--host', address, '--port', String(port), '--log-level', 'debug', ...args],
    { ready: /"msg":"signaling listening"/, name: 'tether-signaling', timeoutMs: 30_000 },
  );
  return { ...signaling, url: `http://${address}:${port}` };
}

/** The origin the console page is served from: intercepted by Playwright, never on the network. */
export const CONSOLE_ORIGIN = 'http://localhost:5999';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export interface ConsoleBrowser {
  browser: Browser;
  page: Page;
  /** page console output and errors, for failure reports */
  log: string[];
  /** Loads the console (test hooks on) with these query parameters, e.g. `{signal, token}`. */
  open(query: Record<string, string>): Promise<ConsolePage>;
}

/**
 * Chromium inside the host's namespace (a wrapper executable does `ip netns exec`); the console
 * page at CONSOLE_ORIGIN, a secure context (localhost), fulfilled from renderer/dist.
 */
export async function launchConsoleIn(net: TestNetwork, host: string): Promise<ConsoleBrowser> {
  const dist = await ensureRendererBuilt();
  // The page's origin is intercepted, so Chromium cannot place it in an address space and its Local
  // Network Access checks block every connection to the namespaces' private addresses.
  const browser = await launchChromium(
    ['--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets'],
    net.wrapperExecutable(host, CHROMIUM_PATH),
  );
  const log: string[] = [];
  try {
    const page = await newLoggedPage(browser, log);
    await page.route(`${CONSOLE_ORIGIN}/**`, async (route) => {
      const path = decodeURIComponent(new URL(route.request().url()).pathname);
      const file = normalize(join(dist, path === '/' ? 'index.html' : path));
      if (!file.startsWith(dist + sep)) return route.fulfill({ status: 403 });
      try {
        const body = await readFile(file);
        return await route.fulfill({ status: 200, body, contentType: TYPES[extname(file)] ?? 'application/octet-stream' });
      } catch {
        return route.fulfill({ status: 404, body: 'not found' });
      }
    });
    return {
      browser,
      page,
      log,
      async open(query) {
        await page.goto(`${CONSOLE_ORIGIN}/index.html?${new URLSearchParams({ ...query, test: '1' }).toString()}`);
        await page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 15_000 });
        return new ConsolePage(page);
      },
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

const resultsDir = fileURLToPath(new URL('../test-results/', import.meta.url));

/**
 * `it` for tests on a test network: on failure, a screenshot of `page()` and the last lines of each
 * named log go to test-results/<file>-<test>.{png,log}. `always` runs after the test, pass or fail.
 */
export function networkTest(file: string, page: () => Page | undefined, logs: () => [string, string[]][], always?: () => Promise<void>) {
  return (name: string, body: () => Promise<void>) =>
    it(name, async () => {
      try {
        await body();
      } catch (error) {
        mkdirSync(resultsDir, { recursive: true });
        const base = `${resultsDir}${file}-${name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 80)}`;
        await page()
          ?.screenshot({ path: `${base}.png` })
          .catch(() => undefined);
        writeFileSync(
          `${base}.log`,
          [
            `error: ${error instanceof Error ? error.stack : String(error)}`,
            ...logs().flatMap(([title, lines]) => [`--- ${title} ---`, ...lines]),
          ].join('\n'),
        );
        console.error(`[${name}] failed; logs in ${base}.log`);
        throw error;
      } finally {
        await always?.();
      }
    });
}
