/**
 * `npm run demo` (after scripts/bootstrap.mjs): the whole of Tether on this machine. Starts the
 * signaling server, two demo vPLC containers on the local Docker engine, the agent (from its
 * bundle) exposing them, and the console: Electron where its binary is installed (and a display is
 * present), otherwise the same renderer served on loopback, opened in Chromium where a display is
 * present; the URL is printed either way. Ctrl-C stops everything and removes the demo containers.
 *
 * Each run is isolated: its containers carry a label with the run's id (`tether.demo=<id>`) and
 * names with that id, and its agent exposes that label only, so two demos on one engine, or a demo
 * beside the tests, never list or remove each other's containers. Live logs go to
 * `.tether-demo/<id>/`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import { startAgent } from '../harness/agent-process.js';
import { docker, ensureDocker, TEST_IMAGE_BASH, TEST_IMAGE_SH } from '../harness/docker.js';
import { ensureRendererBuilt } from '../harness/renderer-build.js';
import { serveDirectory } from '../harness/static-server.js';

const runId = randomBytes(3).toString('hex');
const logDir = join('.tether-demo', runId);
const label = `tether.demo=${runId}`;
const step = (text: string) => console.log(`demo: ${text}`);

/** The Electron binary, when npm could download it; undefined otherwise (then Chromium is used). */
function electronBinary(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch (error) {
    step(`no Electron binary (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); using Chromium`);
    return undefined;
  }
}

async function main(): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  const cleanups: Array<() => Promise<unknown>> = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    step('stopping…');
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => console.error(`demo: ${String(error)}`));
    step(`stopped; the logs stay in ${logDir}`);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    step(`run ${runId}: logs in ${logDir}/`);
    step('checking the Docker engine and the demo images (test/image/build.sh)…');
    await ensureDocker();

    const containers = [
      { name: `tether-demo-${runId}-press-line-1`, image: TEST_IMAGE_BASH },
      { name: `tether-demo-${runId}-packaging-plc`, image: TEST_IMAGE_SH },
    ];
    for (const { name, image } of containers) {
      cleanups.push(() => docker('rm', '-f', name));
      await docker(
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        name,
        '--label',
        label,
        '--hostname',
        name.replace(`tether-demo-${runId}-`, ''),
        image,
      );
    }
    step(`started containers ${containers.map((c) => c.name).join(', ')} (label ${label})`);

    const consoleToken = `demo-console-${randomBytes(8).toString('hex')}`;
    const agentToken = `demo-agent-${randomBytes(8).toString('hex')}`;
    const signalingLog = join(logDir, 'signaling.log');
    writeFileSync(signalingLog, '');
    const signaling = await startSignalingServer({
      port: 0,
      host: '127.0.0.1',
      consoleTokens: [consoleToken],
      agentTokens: [agentToken],
      logger: createJsonLogger({ level: 'info', write: (line) => appendFileSync(signalingLog, `${line}\n`) }),
    });
    cleanups.push(() => signaling.close());
    step(`signaling server on ${signaling.url} (log: ${signalingLog})`);

    const agentLog = join(logDir, 'agent.log');
    writeFileSync(agentLog, '');
    const agentId = `demo-${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}`.slice(0, 57) + `-${runId}`;
    const agent = await startAgent({
      signalingUrl: signaling.url,
      token: agentToken,
      agentId,
      name: `demo host ${hostname()} (${runId})`,
      // this run's containers only, not every container labelled tether.vplc=true on the engine
      extraArgs: ['--label', label],
      onLine: (line) => appendFileSync(agentLog, `${line}\n`),
    });
    cleanups.push(() => agent.stop());
    step(`agent ${agentId} running (pid ${agent.pid}; log: ${agentLog})`);

    step('building the console (vite)…');
    const web = await serveDirectory(await ensureRendererBuilt());
    cleanups.push(() => web.close());
    const url = `${web.url}/index.html?${new URLSearchParams({ signal: signaling.url, token: consoleToken })}`;
    console.log(`\n  Tether console: ${url}\n`);

    const display = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
    const electron = display ? electronBinary() : undefined;
    if (electron) {
      step('opening the desktop console (Electron)');
      const app = spawn(electron, ['.', `--signal=${signaling.url}`, `--token=${consoleToken}`], { stdio: 'ignore' });
      app.on('error', (error) => step(`could not start Electron (${error.message}); open the URL yourself`));
      cleanups.push(async () => app.kill());
    } else if (display) {
      // Chromium refuses to start as root with its sandbox (the quick start runs as root).
      const sandbox = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
      const browser = spawn('chromium', [...sandbox, `--app=${url}`, `--user-data-dir=${join(logDir, 'chromium')}`], { stdio: 'ignore' });
      browser.on('error', (error) => step(`could not start chromium (${error.message}); open the URL yourself`));
      cleanups.push(async () => browser.kill());
    } else {
      step('no display here: open the URL above in Chromium on this machine');
    }
    step('running; Ctrl-C stops everything and removes the demo containers');
  } catch (error) {
    console.error(`demo: failed: ${error instanceof Error ? error.message : String(error)}`);
    await stop(1);
  }
}

void main();
