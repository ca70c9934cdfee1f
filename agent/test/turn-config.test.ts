import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rtcConfigFrom } from '../src/agent.js';
import { loadConfig, type AgentConfig } from '../src/config.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): AgentConfig {
  const result = loadConfig(['--signaling-url', 'http://127.0.0.1:1', '--token', 't', ...argv], env);
  assert.ok(result.ok && result.value.kind === 'run', result.ok ? result.value.kind : result.error);
  return result.value.config;
}

const issued = [{ urls: ['turn:cloud.example:3478?transport=udp'], username: '1767225600:agent.acme.plc-1', credential: 'aXNzdWVk' }];

test("the signaling server's TURN servers come before the configured ones: werift uses only the first TURN URL", () => {
  const agent = config(['--ice-server', '{"urls":"turn:lan.example:3478","username":"u","credential":"p"}']);
  assert.deepEqual(rtcConfigFrom(agent, undefined, issued).iceServers, [
    { urls: 'turn:cloud.example:3478?transport=udp', username: '1767225600:agent.acme.plc-1', credential: 'aXNzdWVk' },
    { urls: 'turn:lan.example:3478', username: 'u', credential: 'p' },
  ]);
  assert.deepEqual(
    rtcConfigFrom(agent).iceServers,
    [{ urls: 'turn:lan.example:3478', username: 'u', credential: 'p' }],
    'without issued ones (the LAN path): the configured only',
  );
});

test('--ice-transport-policy relay makes werift gather relay candidates only; all is the default', () => {
  assert.equal(rtcConfigFrom(config([])).iceTransportPolicy, undefined);
  assert.equal(rtcConfigFrom(config(['--ice-transport-policy', 'relay'])).iceTransportPolicy, 'relay');
  assert.equal(rtcConfigFrom(config([], { TETHER_AGENT_ICE_TRANSPORT_POLICY: 'relay' })).iceTransportPolicy, 'relay');
  const bad = loadConfig(['--signaling-url', 'http://127.0.0.1:1', '--token', 't', '--ice-transport-policy', 'none'], {});
  assert.ok(!bad.ok && /iceTransportPolicy/.test(bad.error));
});

test('--ice-interface gathers on that address alone: no other IPv4 address of the machine, no IPv6', () => {
  const plain = rtcConfigFrom(config(['--ice-host', '203.0.113.7']));
  assert.deepEqual(plain.iceAdditionalHostAddresses, ['203.0.113.7']);
  assert.equal(plain.iceUseIpv4, undefined, 'without it werift gathers on every address');
  assert.equal(plain.iceUseIpv6, undefined);
  const bound = rtcConfigFrom(config(['--ice-interface', '127.0.0.1', '--ice-host', '203.0.113.7']));
  assert.deepEqual(bound.iceInterfaceAddresses, { udp4: '127.0.0.1' });
  assert.equal(bound.iceUseIpv4, false, "werift lists none of the machine's addresses");
  assert.equal(bound.iceUseIpv6, false);
  assert.deepEqual(bound.iceAdditionalHostAddresses, ['127.0.0.1', '203.0.113.7'], 'the bound address, then the advertised ones');
});
