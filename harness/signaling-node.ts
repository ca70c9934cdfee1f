/**
 * A `tether-signaling` node as a child process of its built CLI (signaling/dist/cli.js), so that a
 * test can SIGKILL it as a crash would end it. Settings come from the environment, as in a deployment.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const cli = fileURLToPath(new URL('../signaling/dist/cli.js', import.meta.url));

export interface SignalingNode {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** every line it wrote, prefixed with its name */
  logs(): string[];
  /** SIGKILL; resolves once the process is gone */
  kill(): Promise<void>;
}

/** Builds the signaling bundle when it is missing (`node signaling/build.mjs`). */
export function ensureSignalingBuilt(): void {
  if (existsSync(cli)) return;
  const result = spawnSync(process.execPath, ['signaling/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0 || !existsSync(cli)) throw new Error('signaling/dist/cli.js is missing and `node signaling/build.mjs` failed');
}

export interface SignalingNodeOptions {
  /** `debug` unless said; `info` (the CLI's default) logs a line per connection, `debug` also their closes */
  logLevel?: 'debug' | 'info';
  /** a command the node runs under, e.g. `['prlimit', '--nofile=256:256']` */
  wrapper?: string[];
}

export async function startSignalingNode(
  name: string,
  env: Record<string, string>,
  options: SignalingNodeOptions = {},
): Promise<SignalingNode> {
  ensureSignalingBuilt();
  // For profiling a bench: TETHER_BENCH_NODE_PROFILE_DIR=<dir> runs each node with --cpu-prof into it.
  const profileDir = process.env['TETHER_BENCH_NODE_PROFILE_DIR'];
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  // TETHER_BENCH_NODE_FLAGS: more flags for node itself (e.g. V8's heap sizes), space-separated.
  profile.push(...(process.env['TETHER_BENCH_NODE_FLAGS']?.split(' ').filter(Boolean) ?? []));
  // TETHER_BENCH_NODE_WRAPPER: a command each node runs under when the caller gives none (e.g. `nice -n -10`).
  const wrapper = options.wrapper ?? process.env['TETHER_BENCH_NODE_WRAPPER']?.split(' ').filter(Boolean) ?? [];
  // TETHER_BENCH_NODE_LOG=<file>: every line a node prints, appended to the file (e.g. with `--trace-gc` in the flags).
  const logFile = process.env['TETHER_BENCH_NODE_LOG'];
  const command = [
    ...wrapper,
    process.execPath,
    ...profile,
    cli,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--log-level',
    options.logLevel ?? 'debug',
  ];
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(`${name} stderr ${line}`));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(`${name} ${line}`);
      if (logFile) appendFileSync(logFile, `${name} ${Date.now()} ${line}\n`);
      if (line.includes('"signaling listening"')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${lines.join('\n')}`)));
  });
  return {
    name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    logs: () => [...lines],
    kill: async () => {
      // A profiled node is stopped with SIGTERM, so that it exits and writes its profile.
      if (child.exitCode === null && child.signalCode === null) child.kill(profileDir ? 'SIGTERM' : 'SIGKILL');
      await exited;
    },
  };
}
