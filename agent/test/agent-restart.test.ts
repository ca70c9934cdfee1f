/**
 * The agent killed (SIGKILL, as a crash or the OOM killer would end it) and started again on the
 * same state folder, as systemd's Restart=always does: the lock the dead agent left does not stop
 * it, it comes back with the same identity and fingerprint, and the console paired before the
 * crash reconnects and gets a terminal. A session of the dead agent cannot be resumed: the new
 * agent answers SESSION_NOT_FOUND, which the console shows, and the new agent has ended the shell
 * that the dead one left running (from the session journal in the state folder).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { collect, opened, until } from '../../harness/werift-console.js';

let w: Werift;
let container: TestContainer;
let agent: AgentProcess | undefined;
const stateDir = join(mkdtempSync(join(tmpdir(), 'tether-restart-')), 'state');

before(async () => {
  await Promise.all([ensureDocker(), buildAgent()]);
  w = await patchedWerift();
  container = await startContainer({ namePrefix: 'tether-restart' });
});

after(async () => {
  await agent?.stop();
  await container?.remove();
});

test('a killed agent restarts on its state folder with the same fingerprint; the paired console reconnects', async () => {
  agent = await AgentProcess.start(stateDir);
  const before = { fingerprint: agent.fingerprint, identity: readFileSync(join(stateDir, 'identity.json'), 'utf8') };
  const { console: c, agentInfo } = await pairedConsole(agent);
  const first = await openTerminal(w, c, agentInfo, container.name);
  await first.run('echo before-$((40+2))', 'before-42');
  await first.run('sleep 4711 & echo bg-$((1+1))', 'bg-2');
  const sessionId = first.first.sessionId as string;
  const leftover = async () => (await container.processes()).filter((p) => /sleep 4711/.test(p));

  agent.child.kill('SIGKILL');
  await until(() => agent!.child.exitCode !== null || agent!.child.signalCode !== null, 'the agent to die');
  assert.ok(existsSync(join(stateDir, 'agent.lock')), 'the dead agent left its lock behind');
  await first.pc.close();
  assert.equal((await leftover()).length, 1, "the dead agent's session still runs in the container");

  agent = await AgentProcess.start(stateDir);
  assert.equal(agent.fingerprint, before.fingerprint);
  assert.equal(readFileSync(join(stateDir, 'identity.json'), 'utf8'), before.identity, 'the identity file is untouched');
  assert.match(agent.logs, /"msg":"stale state lock taken over"/);
  // The new agent ends what the dead one left running, from the journal in the state folder.
  assert.match(agent.logs, /"msg":"session of a previous agent ended".*"sessionId":"[^"]+"/);
  for (const deadline = Date.now() + 10_000; (await leftover()).length > 0 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await leftover(), [], 'no process of the dead agent is left');
  const audit = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8');
  assert.match(
    audit,
    new RegExp(
      `"event":"session.end","sessionId":"${sessionId}","container":"[^"]+","reason":"agent restarted: the session did not survive"`,
    ),
  );

  // The console that paired before the crash: the same keys, authenticated again on the new agent.
  await c.open(agent.url);
  const ack = await c.auth();
  assert.ok(ack.ok, JSON.stringify(ack));
  const again = await openTerminal(w, c, agentInfo, container.name);
  await again.run('echo after-$((40+3))', 'after-43');

  // The old session died with the old agent: a resume is refused with the code the console explains.
  const { pc, control, tty, sessionId: negotiation } = await c.connect(w, agentInfo.fingerprint);
  await c.bind(control, negotiation, agentInfo.publicKey, agentInfo.fingerprint);
  const term = collect(tty);
  await opened(tty);
  tty.send(JSON.stringify({ type: 'open', target: container.name, cols: 80, rows: 24, resume: { sessionId, received: 0 } }));
  const refused = await until(() => term.find((m) => m.type === 'error'), 'the resume to be refused');
  assert.equal(refused.code, 'SESSION_NOT_FOUND', JSON.stringify(refused));
  await pc.close();
  await again.close();
  c.close();
});
