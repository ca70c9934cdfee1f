/**
 * A helper process of the bench and the tests that runs the commands it is sent (harness/agent-swarm.ts,
 * harness/relay-probe.ts): this file forks it (the module itself, with `flag` to tell its child
 * part to run) and waits for its reports. Every report has a `kind`; `error` fails whatever waits.
 */
import { fork } from 'node:child_process';

export interface CommandChild<Command, Report extends { kind: string }> {
  readonly pid: number;
  send(command: Command): void;
  /** The next report of this kind; rejects on an `error` report first. */
  next<K extends Report['kind']>(kind: K): Promise<Extract<Report, { kind: K }>>;
  /** exited(): resolves once the child has exited. */
  exited(): Promise<void>;
  readonly running: boolean;
}

export function forkCommandChild<Command, Report extends { kind: string; message?: string }>(
  module: string,
  flag: string,
  what: string,
): CommandChild<Command, Report> {
  const child = fork(module, [flag], {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    send: (command) => void child.send(command as object),
    next: <K extends Report['kind']>(kind: K) =>
      new Promise<Extract<Report, { kind: K }>>((resolve, reject) => {
        const onMessage = (report: Report) => {
          if (report.kind === 'error') reject(new Error(`${what}: ${report.message}`));
          else if (report.kind === kind) resolve(report as Extract<Report, { kind: K }>);
          else return;
          child.off('message', onMessage);
        };
        child.on('message', onMessage);
      }),
    exited: () => exited,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
  };
}
