/**
 * The built agent (dist/cli.js) as a child process on a state folder, with a LAN endpoint on
 * 127.0.0.1, and the console side of a terminal through the werift TestConsole.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parsePairingToken, type PairedAgent } from '@tether/protocol';
import type { Werift } from './patched-werift.js';
import { collect, opened, TestConsole, until } from './werift-console.js';

export const cli = fileURLToPath(new URL('../agent/dist/cli.js', import.meta.url));

export class AgentProcess {
  logs = '';
  url = '';
  fingerprint = '';

  private constructor(
    readonly child: ChildProcess,
    readonly stateDir: string,
    readonly prefix: string[],
  ) {
    child.stdout!.on('data', (chunk: Buffer) => (this.logs += chunk.toString()));
  }

  /**
   * Starts the agent and waits for `agent ready`. `prefix` runs it through another command, e.g.
   * `setpriv --reuid=…` as an unprivileged user (`pair` then runs the same way).
   */
  static async start(stateDir: string, args: string[] = [], prefix: string[] = []): Promise<AgentProcess> {
    const command = [...prefix, process.execPath];
    const child = spawn(
      command[0]!,
      [
        ...command.slice(1),
        cli,
        '--lan-listen',
        '127.0.0.1:0',
        '--state-dir',
        stateDir,
        '--agent-id',
        'rules-agent',
        '--ice-host',
        '127.0.0.1',
        '--ice-interface',
        '127.0.0.1',
        '--log-level',
        'debug',
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const agent = new AgentProcess(child, stateDir, prefix);
    const ready = await until<RegExpExecArray>(
      () =>
        /"msg":"agent ready".*?"fingerprint":"([^"]+)".*?"lanPort":(\d+)/.exec(
          agent.logs
            .split('\n')
            .filter((l) => !args.includes('--signaling-url') || l.includes('signalingUrl'))
            .join('\n'),
        ) ??
        (child.exitCode !== null && assert.fail(`agent exited: ${agent.logs}`)),
      'agent ready',
    );
    agent.fingerprint = ready[1]!;
    agent.url = `http://127.0.0.1:${ready[2]}`;
    return agent;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await once(this.child, 'exit');
    }
  }
}

/** A console enrolled with the agent through `tether-agent pair` and its LAN endpoint. */
export async function pairedConsole(agent: AgentProcess): Promise<{ console: TestConsole; agentInfo: PairedAgent }> {
  const command = [...agent.prefix, process.execPath];
  const out = execFileSync(command[0]!, [...command.slice(1), cli, 'pair', '--no-qr', '--state-dir', agent.stateDir], { encoding: 'utf8' });
  const token = parsePairingToken(/tether\d+:[A-Za-z0-9_-]+/.exec(out)?.[0] ?? '');
  assert.ok(token.ok, out);
  const c = await TestConsole.create();
  await c.open(agent.url);
  const ack = await c.enroll(token.value);
  assert.ok(ack.ok, JSON.stringify(ack));
  return { console: c, agentInfo: ack.agent };
}

/** One authenticated peer connection with one terminal channel, opened on `target`. */
export async function openTerminal(w: Werift, c: TestConsole, agentInfo: PairedAgent, target: string, size = { cols: 80, rows: 24 }) {
  const { pc, control, tty, sessionId, events } = await c.connect(w, agentInfo.fingerprint);
  const controlMessages = await c.bind(control, sessionId, agentInfo.publicKey, agentInfo.fingerprint);
  assert.ok(
    controlMessages.some((m) => m.type === 'auth-ok'),
    JSON.stringify(controlMessages),
  );
  const term = collect(tty);
  await opened(tty);
  tty.send(JSON.stringify({ type: 'open', target, ...size }));
  const first = await until(() => term.find((m) => m.type === 'opened' || m.type === 'error'), 'opened or error');
  const run = async (command: string, marker: string) => {
    assert.equal(first.type, 'opened', JSON.stringify(first));
    tty.send(Buffer.from(`${command}\n`));
    await until(() => term.output().includes(marker), `output ${marker}`);
  };
  /**
   * Closes the tab as a console does: `close` on the channel (the agent ends the session and closes
   * the channel), then ends the negotiation (webrtc:disconnect) and the peer connection. Without
   * the `close`, the agent would keep the session for its resume grace period.
   */
  const close = async () => {
    if (tty.readyState === 'open') {
      tty.send(JSON.stringify({ type: 'close' }));
      await until(() => tty.readyState !== 'open' || undefined, 'the agent to close the channel').catch(() => undefined);
    }
    c.socket?.emit('webrtc:disconnect', { sessionId, reason: 'test done' });
    await pc.close();
  };
  return { pc, control, controlMessages, tty, term, first, events, run, close };
}
