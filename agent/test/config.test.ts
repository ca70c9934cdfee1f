import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, sanitizeAgentId } from '../src/config.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const result = loadConfig(argv, env);
  if (!result.ok) return { error: result.error };
  assert.equal(result.value.kind, 'run');
  return { config: result.value.kind === 'run' ? result.value.config : undefined };
}

describe('config', () => {
  const base = ['--signaling-url', 'http://127.0.0.1:1', '--token', 't'];

  test('defaults: label tether.vplc=true, no ICE servers, bash then sh', () => {
    const { config } = run(base);
    assert.deepEqual(config?.labels, { 'tether.vplc': 'true' });
    assert.deepEqual(config?.iceServers, []);
    assert.deepEqual(config?.shells, ['/bin/bash', '/bin/sh']);
    assert.equal(config?.logLevel, 'info');
  });

  test('flags > environment > file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-config-'));
    const file = join(dir, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({ signalingUrl: 'http://file:1', token: 'file', name: 'from-file', agentId: 'file-id', logLevel: 'warn' }),
    );
    const env = { TETHER_AGENT_NAME: 'from-env', TETHER_AGENT_ID: 'env-id', TETHER_AGENT_ICE_HOSTS: '127.0.0.1' };
    const { config } = run(
      [
        '--config',
        file,
        '--agent-id',
        'flag-id',
        '--ice-server',
        'stun:10.0.0.1:3478',
        '--ice-server',
        '{"urls":"turn:10.0.0.1:3478","username":"u","credential":"p"}',
        '--label',
        'site=a',
        '--label',
        'vplc',
      ],
      env,
    );
    assert.equal(config?.signalingUrl, 'http://file:1');
    assert.equal(config?.name, 'from-env');
    assert.equal(config?.agentId, 'flag-id');
    assert.equal(config?.logLevel, 'warn');
    assert.deepEqual(config?.iceHosts, ['127.0.0.1']);
    assert.deepEqual(config?.labels, { site: 'a', vplc: '' });
    assert.deepEqual(config?.iceServers, [{ urls: 'stun:10.0.0.1:3478' }, { urls: 'turn:10.0.0.1:3478', username: 'u', credential: 'p' }]);
  });

  test('the state folder from TETHER_AGENT_STATE_DIR, as the pair and consoles commands read it', () => {
    assert.equal(run(base, { TETHER_AGENT_STATE_DIR: '/var/lib/tether-agent' }).config?.stateDir, '/var/lib/tether-agent');
    assert.equal(run([...base, '--state-dir', '/tmp/x'], { TETHER_AGENT_STATE_DIR: '/var/lib/tether-agent' }).config?.stateDir, '/tmp/x');
  });

  test('a bad configuration is a clear error', () => {
    assert.match(run(['--token', 't']).error ?? '', /signalingUrl/);
    assert.match(run([...base, '--ice-host', 'not-an-ip']).error ?? '', /iceHosts/);
    assert.match(run([...base, '--log-level', 'loud']).error ?? '', /logLevel/);
    assert.match(run([...base, '--no-such-flag']).error ?? '', /Unknown option/);
    assert.match(run([...base, '--config', '/nonexistent.json']).error ?? '', /cannot read config file/);
  });

  test('help and version', () => {
    assert.deepEqual(loadConfig(['--help'], {}), { ok: true, value: { kind: 'help' } });
    assert.deepEqual(loadConfig(['--version'], {}), { ok: true, value: { kind: 'version' } });
  });

  test('sessions yield by default; priority, CPUs, memory and process caps from flags, per container from the file', () => {
    const { config } = run(base);
    assert.equal(config?.sessionPriority, 'idle');
    assert.deepEqual(
      [config?.sessionCpus, config?.sessionMemory, config?.sessionProcesses, config?.sessionRules, config?.recordInput],
      [undefined, undefined, undefined, {}, false],
    );
    const dir = mkdtempSync(join(tmpdir(), 'tether-config-'));
    const file = join(dir, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        sessionRules: { 'plc-1': { cpus: '2-3', memory: '1g', processes: 64, priority: 'normal' }, 'plc-2': { memory: 33554432 } },
      }),
    );
    const flagged = run([
      ...base,
      '--config',
      file,
      '--session-priority',
      'normal',
      '--session-cpus',
      '1',
      '--session-memory',
      '512m',
      '--session-processes',
      '200',
      '--record-dir',
      '/tmp/casts',
      '--record-input',
    ]).config;
    assert.deepEqual(
      [flagged?.sessionPriority, flagged?.sessionCpus, flagged?.sessionMemory, flagged?.sessionProcesses, flagged?.recordInput],
      ['normal', '1', 512 * 1024 ** 2, 200, true],
    );
    assert.deepEqual(flagged?.sessionRules, {
      'plc-1': { cpus: '2-3', memory: 1024 ** 3, processes: 64, priority: 'normal' },
      'plc-2': { memory: 32 * 1024 ** 2 },
    });
  });

  test('bad standing rules and --record-input without --record-dir are clear errors', () => {
    assert.match(run([...base, '--session-priority', 'low']).error ?? '', /sessionPriority/);
    assert.match(run([...base, '--session-cpus', '1-']).error ?? '', /sessionCpus: a CPU list/);
    assert.match(run([...base, '--session-memory', '1m']).error ?? '', /sessionMemory: a size of at least 16m/);
    assert.match(run([...base, '--session-processes', '0']).error ?? '', /sessionProcesses/);
    assert.match(run([...base, '--record-input']).error ?? '', /recordInput: --record-input needs --record-dir/);
    const dir = mkdtempSync(join(tmpdir(), 'tether-config-'));
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ sessionRules: { 'plc-1': { cpu: '1' } } }));
    assert.match(run([...base, '--config', file]).error ?? '', /sessionRules\.plc-1: Unrecognized key: "cpu"/);
  });

  test('the host name becomes a valid agent id', () => {
    assert.equal(sanitizeAgentId('plc host#1'), 'plc-host-1');
    assert.equal(sanitizeAgentId(''), 'tether-agent');
  });
});
