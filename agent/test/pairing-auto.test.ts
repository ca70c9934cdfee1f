/**
 * The agent as installed (`--require-pairing auto`), attacked by a hostile signaling server and
 * from the LAN, on the built agent with a real container, a real signaling server and consoles
 * written with werift: a peer connection the server made before the first pairing, revoking the
 * last console, an unreadable consoles.json, what pair:enroll tells a guesser, a flood of refused
 * attempts in the audit log, and TCP connections that never finish a request.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket as TcpSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { MAX_LAN_TCP_PER_ADDRESS, parsePairingToken, type PairedAgent, type PairingToken } from '@tether/protocol';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import { io } from 'socket.io-client';
import { REFUSAL_AUDIT_BURST } from '../src/audit.js';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { collect, connectFor, opened, TestConsole, until } from '../../harness/werift-console.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const consoleToken = 'console-pairing-auto-0123456789';
const agentToken = 'agent-pairing-auto-0123456789';
const agentId = 'auto-agent';

describe('an agent with --require-pairing auto, against a hostile signaling server and the LAN', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-pairing-auto-'));
  let agent: ChildProcess | undefined;
  let logs = '';
  let url = '';
  let lanPort = 0;
  let fingerprint = '';
  let container: TestContainer;
  let w: Werift;
  let signaling: Awaited<ReturnType<typeof startSignalingServer>>;
  let engineer: TestConsole;
  let agentInfo: PairedAgent;

  const audit = () =>
    readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  function pair(): PairingToken {
    const out = execFileSync(
      process.execPath,
      [cli, 'pair', '--state-dir', stateDir, '--no-qr', '--lan-endpoint', `127.0.0.1:${lanPort}`],
      {
        encoding: 'utf8',
      },
    );
    const token = parsePairingToken(/tether\d+:[A-Za-z0-9_-]+/.exec(out)?.[0] ?? '');
    assert.ok(token.ok, out);
    return token.value;
  }

  /** A console the signaling server introduces, unpaired, with a shell in the container: what the server itself could be. */
  async function unpairedShell(c: TestConsole) {
    await c.openCloud(signaling.url, consoleToken, agentId);
    const connection = await c.connect(w, fingerprint);
    const { control, tty, events } = connection;
    const ctl = collect(control);
    const term = collect(tty);
    await Promise.race([
      opened(control),
      until(() => events.disconnect, 'a refusal', 30_000).then((d) => Promise.reject(new Error(`refused: ${JSON.stringify(d)}`))),
    ]);
    control.send(JSON.stringify({ type: 'hello', protocol: 'tether-tty/1', peer: { kind: 'console', version: '0' }, capabilities: [] }));
    await until(() => ctl.find((m) => m.type === 'hello'), 'the agent hello');
    await opened(tty);
    tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    const answer = await until(() => term.find((m) => m.type === 'opened' || m.type === 'error'), 'opened');
    assert.equal(answer.type, 'opened', JSON.stringify(answer));
    return { ...connection, ctl, term };
  }

  /** An unpaired offer through the signaling server: the agent's answer or refusal. */
  async function unpairedOffer(): Promise<{ code?: string; reason: string } | 'answered'> {
    const c = await TestConsole.create();
    await c.openCloud(signaling.url, consoleToken, agentId);
    const { pc, control, events } = await c.connect(w, fingerprint);
    try {
      return await until(
        () => events.disconnect ?? (control.readyState === 'open' ? ('answered' as const) : undefined),
        'the agent to answer or refuse',
        30_000,
      );
    } finally {
      await pc.close();
      c.close();
    }
  }

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-pairing-auto' });
    signaling = await startSignalingServer({
      port: 0,
      host: '127.0.0.1',
      consoleTokens: [consoleToken],
      agentTokens: [agentToken],
      logger: createJsonLogger({ level: 'warn', write: () => undefined }),
    });
    agent = spawn(
      process.execPath,
      [
        cli,
        '--lan-listen',
        '127.0.0.1:0',
        '--signaling-url',
        signaling.url,
        '--token',
        agentToken,
        '--state-dir',
        stateDir,
        '--agent-id',
        agentId,
        '--name',
        'Auto agent',
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
    lanPort = Number(ready[2]);
    url = `http://127.0.0.1:${lanPort}`;
  });

  after(async () => {
    engineer?.close();
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
    await signaling?.close();
    await container?.remove();
  });

  test('a console the server connected before the first pairing loses its shell and its connection when a console pairs', async () => {
    const relay = await TestConsole.create();
    const { pc, tty, term, events } = await unpairedShell(relay);
    tty.send(Buffer.from('echo BEFORE-$((6*7))\n'));
    await until(() => term.output().includes('BEFORE-42') || undefined, 'the unpaired shell to run (no console is enrolled yet)');
    const sessionsBefore = audit().filter((e) => e.event === 'session.start').length;

    engineer = await TestConsole.create();
    await engineer.open(url);
    const ack = await engineer.enroll(pair());
    assert.ok(ack.ok, JSON.stringify(ack));
    engineer.consoleId = ack.consoleId;
    agentInfo = ack.agent;

    const told = await until(() => events.disconnect, 'the agent to end the unpaired connection');
    assert.equal(told.code, 'NOT_PAIRED', told.reason);
    await until(() => tty.readyState === 'closed' || undefined, 'its terminal channel to close');
    // Nothing more reaches a shell through it: a new channel is never opened.
    const again = pc.createDataChannel('tty:2');
    const replies = collect(again);
    again.send?.(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24 }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(!replies.some((m) => m.type === 'opened'), JSON.stringify(replies));
    const ended = await until(
      () => audit().find((e) => e.event === 'console.refused' && e.code === 'NOT_PAIRED' && e.fingerprint === relay.keys.fingerprint),
      'the agent to audit why',
    );
    assert.match(String(ended.reason), /paired/);
    await until(
      () => audit().find((e) => e.event === 'session.end' && e.fingerprint === relay.keys.fingerprint),
      "the unpaired console's session to end",
    );
    assert.equal(audit().filter((e) => e.event === 'session.start').length, sessionsBefore);
    await pc.close();
    relay.close();

    // The engineer, paired, is served.
    await engineer.open(url);
    assert.ok((await engineer.auth()).ok);
    const own = await engineer.connect(w, fingerprint);
    const ownReplies = await engineer.bind(own.control, own.sessionId, agentInfo.publicKey, fingerprint);
    assert.ok(
      ownReplies.some((m) => m.type === 'auth-ok'),
      JSON.stringify(ownReplies),
    );
    await own.pc.close();
  });

  test('an unpaired console is refused once a console has paired, and still after the last one is revoked', async () => {
    const refused = await unpairedOffer();
    assert.notEqual(refused, 'answered');
    assert.equal(refused !== 'answered' && refused.code, 'FINGERPRINT_MISMATCH');
    execFileSync(process.execPath, [cli, 'consoles', 'revoke', engineer.consoleId!, '--state-dir', stateDir], { encoding: 'utf8' });
    // Revoking a lost laptop must not hand the agent back to whoever the server vouches for.
    const afterRevoke = await unpairedOffer();
    assert.notEqual(afterRevoke, 'answered', 'an unpaired console is served again after the last console was revoked');
    assert.equal(afterRevoke !== 'answered' && afterRevoke.code, 'FINGERPRINT_MISMATCH');
  });

  test('an unreadable consoles.json refuses every offer: the agent fails closed', async () => {
    const file = join(stateDir, 'consoles.json');
    const saved = join(stateDir, 'consoles.json.saved');
    copyFileSync(file, saved);
    try {
      writeFileSync(file, '{ "consoles": [ {"id": ');
      const refused = await unpairedOffer();
      assert.notEqual(refused, 'answered', 'an unpaired console was served while consoles.json could not be read');
      assert.equal(refused !== 'answered' && refused.code, 'INTERNAL');
      assert.match(refused !== 'answered' ? refused.reason : '', /cannot read its enrolled consoles/);
    } finally {
      copyFileSync(saved, file);
    }
  });

  test('pair:enroll says which certificates are enrolled only to the holder of a valid token', async () => {
    // A guesser with the engineer's (public) fingerprint and a made-up pairing.
    const guesser = await TestConsole.create();
    await guesser.open(url, '127.0.0.5');
    const forged = { ...pair(), pairingId: 'made-up-pairing-id-0123' };
    const answer = await guesser.enroll(forged, forged.secret, engineer.keys.fingerprint);
    assert.equal(answer.ok, false);
    assert.equal(!answer.ok && answer.error.code, 'PAIRING_INVALID');
    assert.doesNotMatch(!answer.ok ? answer.error.message : '', /already enrolled/);
    // The holder of a valid token learns it, and its token is not spent by the refusal.
    const token = pair();
    const holder = await guesser.enroll(token, token.secret, engineer.keys.fingerprint);
    assert.match(!holder.ok ? holder.error.message : '', /already enrolled for another console/);
    const own = await guesser.enroll(token);
    assert.ok(own.ok, JSON.stringify(own));
    guesser.close();
  });

  test('a flood of refused pairing attempts from one address is audited within a budget, the rest counted', async () => {
    const before = audit().length;
    const from = { localAddress: '127.0.0.9' };
    const sockets = Array.from({ length: 4 }, () =>
      io(url, { transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: false, ...from }),
    );
    await Promise.all(sockets.map((s) => connectFor(s, 'lan:hello', 'the LAN endpoint')));
    // Well formed, with a made-up pairing: each is refused for its token (then RATE_LIMITED), as a guesser's would be.
    const guesser = await TestConsole.create();
    const attempt = {
      pairingId: 'flood-made-up-pairing-id',
      consoleName: 'flood',
      publicKey: guesser.keys.publicKey,
      fingerprint: guesser.keys.fingerprint,
      proof: Buffer.alloc(32, 7).toString('base64url'),
    };
    const attempts = 4 * 150;
    let answered = 0;
    // Those the endpoint took as attempts (not dropped or refused by the socket's message rate).
    let attemptsTaken = 0;
    const took = (answer: { ok: boolean; error?: { code: string; message: string } }) => {
      answered++;
      if (answer.error?.code === 'PAIRING_INVALID' || /failed attempts/.test(answer.error?.message ?? '')) attemptsTaken++;
    };
    await Promise.all(
      sockets.map(async (socket) => {
        for (let i = 0; i < 150; i++) {
          socket.emit('pair:enroll', attempt, took);
          if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 600)); // under the socket's message rate
        }
      }),
    );
    await until(() => answered >= attempts * 0.6 || undefined, 'the answers');
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const socket of sockets) socket.disconnect();
    const written = audit()
      .slice(before)
      .filter((e) => e.event === 'pairing.refused');
    assert.ok(written.length <= REFUSAL_AUDIT_BURST + 10, `${written.length} records for ${attempts} attempts`);
    // The next refusal written says how many were held back.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const late = await TestConsole.create();
    await late.open(url, '127.0.0.10');
    await late.enroll({ ...pair(), pairingId: 'late-made-up-pairing-id' });
    late.close();
    // Every refusal is either written or counted in a later record's heldBack, the late one's included.
    const records = await until(() => {
      const all = audit()
        .slice(before)
        .filter((e) => e.event === 'pairing.refused');
      return all.some((e) => e.address === '127.0.0.10') ? all : undefined;
    }, 'the late refusal to be written');
    const held = records.reduce((sum, e) => sum + ((e.heldBack as Record<string, number> | undefined)?.['pairing.refused'] ?? 0), 0);
    assert.ok(held > 0, 'refusals over the budget are counted');
    assert.ok(attemptsTaken > REFUSAL_AUDIT_BURST * 2, `${attemptsTaken} attempts taken`);
    assert.equal(records.length + held, attemptsTaken + 1, `${records.length} written + ${held} counted`);
  });

  test(`TCP connections that never finish a request: at most ${MAX_LAN_TCP_PER_ADDRESS} per address, and closed after the headers timeout`, async () => {
    const sockets: TcpSocket[] = [];
    const closed = new Set<TcpSocket>();
    for (let i = 0; i < MAX_LAN_TCP_PER_ADDRESS + 8; i++) {
      const socket = tcpConnect({ host: '127.0.0.1', port: lanPort, localAddress: '127.0.0.11' });
      socket.on('error', () => undefined);
      socket.on('close', () => closed.add(socket));
      socket.resume(); // reads what the agent answers (a 408), and so sees it close
      socket.on('connect', () => socket.write('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n'));
      sockets.push(socket);
    }
    await until(() => closed.size >= 8 || undefined, 'the connections over the bound to be closed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(sockets.length - closed.size, MAX_LAN_TCP_PER_ADDRESS, 'connections left open from one address');
    // Another address is still served meanwhile.
    const other = await TestConsole.create();
    await other.open(url, '127.0.0.12');
    other.close();
    // The unfinished requests are closed by the agent (LAN_HEADERS_TIMEOUT_MS), not held for a minute.
    await until(() => closed.size === sockets.length || undefined, 'every unfinished request to be closed', 30_000);
  });
});
