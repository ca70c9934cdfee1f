/**
 * Offline pairing and trust, end to end on the built agent with no signaling server: pairing from
 * the printed token over the agent's LAN endpoint, a terminal over that path, the refusals, the
 * fingerprint across a restart, revocation, and a relay that swaps the fingerprint.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parsePairingToken, type PairedAgent, type PairingToken } from '@tether/protocol';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { collect, opened, TestConsole, until } from '../../harness/werift-console.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('pairing and trust over the LAN endpoint (no signaling server)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-agent-state-'));
  let agent: ChildProcess | undefined;
  let logs = '';
  let url = '';
  let fingerprint = '';
  let container: TestContainer;
  let w: Werift;
  let paired: TestConsole;
  let agentInfo: PairedAgent;

  async function startAgent(): Promise<void> {
    logs = '';
    agent = spawn(
      process.execPath,
      [
        cli,
        '--lan-listen',
        '127.0.0.1:0',
        '--state-dir',
        stateDir,
        '--agent-id',
        'lan-agent',
        '--name',
        'LAN agent',
        '--ice-host',
        '127.0.0.1',
        '--ice-interface',
        '127.0.0.1',
        '--log-level',
        'debug',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    agent.stdout!.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const ready = await until<RegExpExecArray>(
      () => /"msg":"agent ready".*?"fingerprint":"([^"]+)".*?"lanPort":(\d+)/.exec(logs) ?? undefined,
      'agent ready',
    );
    fingerprint = ready[1]!;
    url = `http://127.0.0.1:${ready[2]}`;
  }

  async function stopAgent(): Promise<void> {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
  }

  function pair(...args: string[]): PairingToken {
    const out = execFileSync(process.execPath, [cli, 'pair', '--state-dir', stateDir, ...args], { encoding: 'utf8' });
    const text = /tether\d+:[A-Za-z0-9_-]+/.exec(out)?.[0];
    assert.ok(text, out);
    const token = parsePairingToken(text);
    assert.ok(token.ok);
    return token.value;
  }

  async function terminal(c: TestConsole, command: string): Promise<string> {
    const { pc, control, tty, sessionId } = await c.connect(w, fingerprint);
    const replies = await c.bind(control, sessionId, agentInfo.publicKey, fingerprint);
    assert.equal(replies.find((m) => m.type === 'auth-ok')?.consoleId, c.consoleId, JSON.stringify(replies));
    const term = collect(tty);
    await opened(tty);
    tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    await until(() => term.find((m) => m.type === 'opened' || m.type === 'error'), 'opened');
    tty.send(Buffer.from(`${command}; echo done-$((6*7))\n`));
    await until(() => term.output().includes('done-42'), `output of ${command}`);
    await pc.close();
    return term.output();
  }

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-e2e-lan' });
    await startAgent();
    paired = await TestConsole.create();
  });

  after(async () => {
    paired?.close();
    await stopAgent();
    await container?.remove();
  });

  test('identity files are private and the token carries the agent fingerprint', () => {
    assert.equal(statSync(join(stateDir, 'identity.json')).mode & 0o777, 0o600);
    assert.equal(statSync(stateDir).mode & 0o777, 0o700);
    const token = pair('--no-qr');
    assert.equal(token.fingerprint, fingerprint);
    assert.equal(token.agentId, 'lan-agent');
    assert.deepEqual(token.endpoints, [url.replace('http://', '')]);
  });

  test('pair from the printed token, then a terminal over the LAN as a non-root user', async () => {
    const token = pair('--no-qr');
    const hello = await paired.open(url);
    assert.equal(hello.agentId, token.agentId);
    const ack = await paired.enroll(token);
    assert.ok(ack.ok, JSON.stringify(ack));
    assert.equal(ack.agent.fingerprint, token.fingerprint);
    agentInfo = ack.agent;
    const output = await terminal(paired, 'id -u');
    assert.match(output, /\r?\n1000\r?\n/);
    const audit = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8');
    assert.match(audit, /"event":"pairing.enrolled"/);
    assert.match(audit, /"event":"session.start".*"user":"1000:1000"/);
    const list = execFileSync(process.execPath, [cli, 'consoles', 'list', '--state-dir', stateDir], { encoding: 'utf8' });
    assert.match(list, new RegExp(`${paired.consoleId}\\s+active`));
  });

  test('the fingerprint survives a restart and the paired console reconnects', async () => {
    const before = fingerprint;
    await stopAgent();
    await startAgent();
    assert.equal(fingerprint, before);
    await paired.open(url);
    const ack = await paired.auth();
    assert.ok(ack.ok, JSON.stringify(ack));
    await terminal(paired, 'true');
  });

  test('a relay that swaps the offer fingerprint gets no data channel; the agent refuses and audits it', async () => {
    await paired.open(url);
    assert.ok((await paired.auth()).ok);
    const fake = '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF';
    const { pc, control, events } = await paired.connect(w, fingerprint, (sdp) =>
      sdp.replace(/a=fingerprint:sha-256 \S+/g, `a=fingerprint:sha-256 ${fake}`),
    );
    await until(() => events.disconnect, 'the agent refuses');
    assert.equal(events.disconnect?.code, 'FINGERPRINT_MISMATCH');
    assert.notEqual(control.readyState, 'open');
    await pc.close();
    assert.match(
      readFileSync(join(stateDir, 'audit.jsonl'), 'utf8'),
      new RegExp(`"event":"offer.refused".*"fingerprint":"${fake}".*"code":"FINGERPRINT_MISMATCH"`),
    );
  });

  test("the console refuses an answer whose fingerprint is not the paired agent's", async () => {
    await paired.open(url);
    assert.ok((await paired.auth()).ok);
    const other = await TestConsole.create();
    const { pc, control, events } = await paired.connect(w, other.keys.fingerprint);
    await until(() => events.answerRefused, 'the console refuses the answer');
    assert.notEqual(control.readyState, 'open');
    await pc.close();
  });

  test('a replayed, a wrong and an expired token are refused', async () => {
    const token = pair('--no-qr');
    const c = await TestConsole.create();
    await c.open(url);
    const wrong = await c.enroll(token, 'AAAAAAAAAAAAAAAAAAAAAA');
    assert.ok(!wrong.ok && wrong.error.code === 'PAIRING_INVALID');
    assert.ok((await c.enroll(token)).ok);
    const replay = await (await TestConsole.create().then(async (d) => (await d.open(url), d))).enroll(token);
    assert.ok(!replay.ok && replay.error.code === 'PAIRING_SPENT', JSON.stringify(replay));
    const short = pair('--no-qr', '--ttl', '1ms');
    await new Promise((r) => setTimeout(r, 20));
    await c.open(url); // a connection that enrolled stays that console: a new one for another attempt
    const expired = await c.enroll(short);
    assert.ok(!expired.ok && expired.error.code === 'PAIRING_EXPIRED', JSON.stringify(expired));
    c.close();
  });

  test('a revoked console is refused on the LAN socket', async () => {
    const c = await TestConsole.create();
    await c.open(url);
    const enrolled = await c.enroll(pair('--no-qr'));
    assert.ok(enrolled.ok, JSON.stringify(enrolled));
    execFileSync(process.execPath, [cli, 'consoles', 'revoke', c.consoleId!, '--state-dir', stateDir]);
    await c.open(url);
    const refused = await c.auth();
    assert.ok(!refused.ok && refused.error.code === 'NOT_PAIRED', JSON.stringify(refused));
    assert.match(
      execFileSync(process.execPath, [cli, 'consoles', 'list', '--state-dir', stateDir], { encoding: 'utf8' }),
      new RegExp(`${c.consoleId}\\s+revoked`),
    );
    c.close();
  });

  test("an enrolled console's id signed with another key is refused; the audit says so, the answer does not tell that the id is enrolled", async () => {
    const c = await TestConsole.create();
    await c.open(url);
    assert.ok((await c.enroll(pair('--no-qr'))).ok);
    // From addresses of their own: the tests before this one used up 127.0.0.1's failed attempts.
    const impostor = await TestConsole.create();
    await impostor.open(url, '127.0.0.41');
    impostor.consoleId = c.consoleId;
    const refused = await impostor.auth();
    const unknown = await TestConsole.create();
    await unknown.open(url, '127.0.0.42');
    unknown.consoleId = 'AAAAAAAAAAAAAAAAAAAAAA';
    const stranger = await unknown.auth();
    assert.ok(!refused.ok && refused.error.code === 'NOT_PAIRED', JSON.stringify(refused));
    assert.ok(!stranger.ok && stranger.error.code === 'NOT_PAIRED', JSON.stringify(stranger));
    assert.equal(refused.error.message, stranger.error.message, 'the same answer for an enrolled id and an unknown one');
    const refusals = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; consoleId?: string; reason?: string })
      .filter((e) => e.event === 'console.refused');
    assert.match(
      refusals.find((e) => e.consoleId === c.consoleId)?.reason ?? '',
      /signature does not verify with this console's enrolled key/,
    );
    assert.match(refusals.find((e) => e.consoleId === unknown.consoleId)?.reason ?? '', /not enrolled/);
    for (const x of [c, impostor, unknown]) x.close();
  });

  test('guessing is rate-limited', async () => {
    const token = pair('--no-qr');
    const c = await TestConsole.create();
    await c.open(url);
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const ack = await c.enroll(token, `AAAAAAAAAAAAAAAAAAAAA${i}`);
      if (!ack.ok) codes.push(ack.error.code);
    }
    assert.ok(codes.includes('RATE_LIMITED'), codes.join());
    const right = await c.enroll(token);
    assert.ok(!right.ok && right.error.code === 'RATE_LIMITED');
    c.close();
  });
});
