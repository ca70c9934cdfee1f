/** A long-running process inside a test network namespace: its log lines, a ready line to wait for, a stop. */
import type { ChildProcess } from 'node:child_process';
import type { TestNetwork } from './netns.js';

export interface NetProcess {
  readonly child: ChildProcess;
  /** stdout and stderr lines, in order (the last 5,000) */
  logs(): string[];
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited */
  stop(): Promise<void>;
}

export interface NetProcessOptions {
  /** a line that says the process is ready */
  ready: RegExp;
  /** for error messages */
  name: string;
  timeoutMs?: number;
}

export async function startInNetwork(
  net: TestNetwork,
  host: string,
  command: string,
  args: readonly string[],
  options: NetProcessOptions,
): Promise<NetProcess> {
  const child = net.spawn(host, command, args);
  const lines: string[] = [];
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      lines.push(`[${options.name} exited: code ${code}, signal ${signal}]`);
      resolve();
    }),
  );
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  for (const [stream, prefix] of [
    [child.stdout, ''],
    [child.stderr, '[stderr] '],
  ] as const) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      rest += chunk;
      let at: number;
      while ((at = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, at);
        rest = rest.slice(at + 1);
        lines.push(prefix + line);
        if (lines.length > 5000) lines.splice(0, 1000);
        if (options.ready.test(line)) markReady();
      }
    });
  }
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exit.then(() => 'exit' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ready') {
    child.kill('SIGKILL');
    throw new Error(`${options.name} in ${host} did not become ready (${outcome}); its output:\n${lines.slice(-60).join('\n')}`);
  }
  return {
    child,
    logs: () => [...lines],
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    },
  };
}
