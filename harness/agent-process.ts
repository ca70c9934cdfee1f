/** The real agent as a child process, from its built bundle (agent/dist/cli.js). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const cli = fileURLToPath(new URL('../agent/dist/cli.js', import.meta.url));

export interface AgentProcessOptions {
  /** omitted (with `token`): a LAN-only agent, which needs `lanListen` */
  signalingUrl?: string;
  token?: string;
  /** `--lan-listen host:port` (port 0: any free port; see `lanPort`) */
  lanListen?: string;
  agentId: string;
  name: string;
  extraArgs?: string[];
  /** an installed `tether-agent` executable to run instead of node agent/dist/cli.js */
  executable?: string;
  /** the agent's state folder (its identity); a fresh temporary one unless given, e.g. to restart the same agent */
  stateDir?: string;
  /** a network namespace to run the agent in (`ip netns exec`), e.g. a TestNetwork host's `ns` */
  netns?: string;
  /** gather ICE on loopback only (`--ice-host/--ice-interface 127.0.0.1`); true unless in a namespace */
  iceLoopback?: boolean;
  /** flags for node itself before the script, e.g. `--expose-gc` (not with `executable`) */
  nodeArgs?: string[];
  /** added to the agent's environment, e.g. `TETHER_AGENT_DEBUG_STATS=1` */
  env?: NodeJS.ProcessEnv;
  /** called with each line as the agent writes it (stderr lines prefixed `[stderr] `), e.g. to keep a live log file */
  onLine?: (line: string) => void;
  /**
   * The log message `startAgent` waits for: "agent ready" unless given, e.g. "signaling connection
   * failed" for an agent whose signaling server is meant to be out of reach
   */
  readyMessage?: string;
}

export interface AgentProcess {
  readonly pid: number;
  readonly agentId: string;
  readonly name: string;
  /** the state folder (identity, consoles.json, audit.jsonl) */
  readonly stateDir: string;
  /** from the "agent ready" line: the DTLS fingerprint, and the LAN port when listening */
  readonly fingerprint: string | undefined;
  readonly lanPort: number | undefined;
  /** every line the agent wrote, stdout and stderr, in order */
  logs(): string[];
  /** VmRSS of the agent's process, from /proc/<pid>/status */
  rssBytes(): number;
  /** open file descriptors of the agent's process (entries of /proc/<pid>/fd) */
  fdCount(): number;
  stop(): Promise<void>;
  /** how the process ended (exit code or signal), once it has */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGKILL, as a crash or a power cut would end it; resolves once the process is gone */
  kill(): Promise<void>;
  /**
   * One `debug stats` sample (SIGUSR2; agent/src/debug-stats.ts): memory, and the figures of each
   * session and peer (output flow, SCTP state). Test agents run with TETHER_AGENT_DEBUG_STATS=1
   * unless their env says otherwise; undefined when no sample came within 5 s.
   */
  debugStats(): Promise<Record<string, unknown> | undefined>;
  /** SIGSTOP / SIGCONT: the process hangs (its sockets stay open) / goes on */
  pause(): void;
  resume(): void;
}

/** Builds the agent bundle when it is missing (`node agent/build.mjs`). */
export function ensureAgentBuilt(): void {
  if (existsSync(cli)) return;
  const result = spawnSync(process.execPath, ['agent/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0 || !existsSync(cli)) throw new Error('agent/dist/cli.js is missing and `node agent/build.mjs` failed');
}

export async function startAgent(options: AgentProcessOptions): Promise<AgentProcess> {
  if (!options.executable) ensureAgentBuilt();
  const lines: string[] = [];
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'tether-agent-state-'));
  const args = [
    ...(options.signalingUrl ? ['--signaling-url', options.signalingUrl] : []),
    ...(options.token ? ['--token', options.token] : []),
    ...(options.lanListen ? ['--lan-listen', options.lanListen] : []),
    '--agent-id',
    options.agentId,
    '--name',
    options.name,
    ...((options.iceLoopback ?? !options.netns) ? ['--ice-host', '127.0.0.1', '--ice-interface', '127.0.0.1'] : []),
    '--log-level',
    'debug',
    // one identity per agent, as on separate hosts, and nothing left in /var/lib
    '--state-dir',
    stateDir,
    ...(options.extraArgs ?? []),
  ];
  // Debug stats on: a failing test can ask the agent where its bytes are (debugStats below).
  const env = { TETHER_AGENT_DEBUG_STATS: '1', ...process.env, ...options.env };
  const command = options.executable ? [options.executable, ...args] : [process.execPath, ...(options.nodeArgs ?? []), cli, ...args];
  // `ip netns exec` execs the command in place: the child's pid is the agent's.
  const inNamespace = options.netns ? ['ip', 'netns', 'exec', options.netns, ...command] : command;
  const child: ChildProcess = spawn(inNamespace[0]!, inNamespace.slice(1), { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      lines.push(`[agent process exited: code ${code}, signal ${signal}]`);
      resolve();
    }),
  );
  const readyMessage = options.readyMessage ?? 'agent ready';
  let readyLine: Record<string, unknown> = {};
  let ready: () => void = () => undefined;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  const collect = (stream: NodeJS.ReadableStream | null, prefix: string) => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      rest += chunk;
      let at: number;
      while ((at = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, at);
        rest = rest.slice(at + 1);
        lines.push(prefix + line);
        options.onLine?.(prefix + line);
        if (lines.length > 20_000) lines.splice(0, 5_000);
        if (line.includes(`"msg":${JSON.stringify(readyMessage)}`)) {
          try {
            readyLine = JSON.parse(line) as Record<string, unknown>;
          } catch (error) {
            lines.push(`[ready line not JSON: ${String(error)}]`);
          }
          ready();
        }
      }
    });
  };
  collect(child.stdout, '');
  collect(child.stderr, '[stderr] ');

  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref());
  const outcome = await Promise.race([readyPromise.then(() => 'ready' as const), exit.then(() => 'exit' as const), timeout]);
  if (outcome !== 'ready') {
    child.kill('SIGKILL');
    throw new Error(
      `the agent did not print "${readyMessage}" (${outcome === 'exit' ? `it exited: ${JSON.stringify(exited)}` : 'within 30 s'}); its log:\n${lines.join('\n')}`,
    );
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('the agent process has no pid');

  return {
    pid,
    agentId: options.agentId,
    name: options.name,
    stateDir,
    fingerprint: typeof readyLine.fingerprint === 'string' ? readyLine.fingerprint : undefined,
    lanPort: typeof readyLine.lanPort === 'number' ? readyLine.lanPort : undefined,
    logs: () => [...lines],
    rssBytes() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (!match?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`);
      return Number(match[1]) * 1024;
    },
    fdCount: () => readdirSync(`/proc/${pid}/fd`).length,
    exited: () => exited,
    async debugStats() {
      if (exited) return undefined;
      const isSample = (line: string) => line.includes('"msg":"debug stats"');
      const before = lines.filter(isSample).length;
      child.kill('SIGUSR2');
      for (let waited = 0; waited < 5_000; waited += 50) {
        const samples = lines.filter(isSample);
        const sample = samples.length > before ? samples.at(-1) : undefined;
        if (sample) return JSON.parse(sample) as Record<string, unknown>;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return undefined;
    },
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async stop() {
      if (exited) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(killTimer);
    },
  };
}
