/**
 * Pinning on the cloud path: the built agent behind a real signaling server (signed tokens), with
 * one console enrolled over the LAN endpoint. An unenrolled console's offer through the server is
 * refused and audited; the enrolled one gets a terminal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PairedAgent } from '@tether/protocol';
import { issueToken, startSignalingServer, type SignalingServer } from '@tether/signaling';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { AgentProcess, openTerminal, pairedConsole } from '../../harness/lan-agent.js';
import { buildAgent, patchedWerift, type Werift } from '../../harness/patched-werift.js';
import { TestConsole, until } from '../../harness/werift-console.js';

const SECRET = 'cloud-pinning-secret-0123456789abcdef-0123';
const token = (role: 'agent' | 'console', subject: string) => {
  const issued = issueToken(SECRET, { role, org: 'plant-7', subject });
  assert.ok(issued.ok);
  return issued.value.token;
};

describe('pinning through the cloud signaling server', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tether-cloud-state-'));
  let server: SignalingServer;
  let agent: AgentProcess;
  let container: TestContainer;
  let w: Werift;
  let paired: { console: TestConsole; agentInfo: PairedAgent };

  before(async () => {
    await Promise.all([ensureDocker(), buildAgent()]);
    w = await patchedWerift();
    container = await startContainer({ namePrefix: 'tether-cloud' });
    server = await startSignalingServer({ host: '127.0.0.1', port: 0, tokenSecrets: [SECRET] });
    agent = await AgentProcess.start(stateDir, ['--signaling-url', server.url, '--token', token('agent', 'rules-agent')]);
    paired = await pairedConsole(agent);
  });

  after(async () => {
    paired?.console.close();
    await agent?.stop();
    await server?.close();
    await container?.remove();
  });

  test("an unenrolled console's offer is refused with FINGERPRINT_MISMATCH and audited", async () => {
    const stranger = await TestConsole.create();
    await stranger.openCloud(server.url, token('console', 'stranger'), 'rules-agent');
    const { pc, control, events } = await stranger.connect(w, agent.fingerprint);
    await until(() => events.disconnect, 'the agent refuses');
    assert.equal(events.disconnect?.code, 'FINGERPRINT_MISMATCH');
    assert.notEqual(control.readyState, 'open');
    await pc.close();
    stranger.close();
    const audit = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8');
    assert.match(
      audit,
      new RegExp(`"event":"offer.refused","path":"cloud".*"fingerprint":"${stranger.keys.fingerprint}".*"code":"FINGERPRINT_MISMATCH"`),
    );
  });

  test('the enrolled console authenticates through the cloud path and gets a terminal', async () => {
    await paired.console.openCloud(server.url, token('console', 'operator'), 'rules-agent');
    const s = await openTerminal(w, paired.console, paired.agentInfo, container.name);
    assert.equal(s.first.type, 'opened', JSON.stringify(s.first));
    await s.run('echo cloud-$((20+22))', 'cloud-42');
    await s.close();
    assert.match(readFileSync(join(stateDir, 'audit.jsonl'), 'utf8'), /"event":"console.authenticated","path":"cloud"/);
  });
});
