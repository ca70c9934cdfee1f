/**
 * For the pairing end-to-end tests: a LAN-only agent (no signaling server) on a fixed loopback
 * port, its printed pairing token, its audit log, and the console page opened with no signaling
 * server (`lan=1`), served from http://localhost so the camera API exists.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startAgent, type AgentProcess } from './agent-process.js';
import { ConsolePage } from './console-page.js';

const cli = fileURLToPath(new URL('../agent/dist/cli.js', import.meta.url));

/** A loopback TCP port that was free a moment ago (the agent must keep one port across restarts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function startLanAgent(options: { stateDir?: string; port: number; agentId: string; name: string }): Promise<AgentProcess> {
  return startAgent({
    agentId: options.agentId,
    name: options.name,
    lanListen: `127.0.0.1:${options.port}`,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  });
}

/** Runs `tether-agent pair --no-qr` on the agent's state folder and returns the token it printed. */
export function printPairingToken(stateDir: string, port: number, ...extra: string[]): string {
  const out = execFileSync(
    process.execPath,
    [cli, 'pair', '--state-dir', stateDir, '--lan-endpoint', `127.0.0.1:${port}`, '--no-qr', ...extra],
    { encoding: 'utf8' },
  );
  const token = /tether\d+:[A-Za-z0-9_-]+/.exec(out)?.[0];
  if (!token) throw new Error(`tether-agent pair printed no token:\n${out}`);
  return token;
}

/** `tether-agent consoles revoke <id>` on the agent's state folder. */
export function revokeConsole(stateDir: string, consoleId: string): string {
  return execFileSync(process.execPath, [cli, 'consoles', 'revoke', consoleId, '--state-dir', stateDir], { encoding: 'utf8' });
}

/** The agent's audit log (`audit.jsonl` in its state folder), one object per line. */
export function auditEntries(stateDir: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Opens the console with no signaling server: it lists the agents it paired with, reached over the LAN. */
export async function openLanConsole(page: Page, baseUrl: string): Promise<ConsolePage> {
  await page.goto(`${baseUrl}/index.html?lan=1&test=1`);
  await page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 15_000 });
  return new ConsolePage(page);
}
