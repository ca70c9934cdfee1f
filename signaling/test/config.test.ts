import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from '../src/connection-bounds.js';
import { DEFAULT_PORT, loadConfig, type ConfigOutcome } from '../src/config.js';

const noFile = (path: string): string => {
  throw new Error(`ENOENT: ${path}`);
};
const tokens = ['--console-token', 'console-token-long-enough', '--agent-token', 'agent-token-long-enough'];

function run(outcome: ConfigOutcome) {
  assert.equal(outcome.kind, 'run', outcome.kind === 'error' ? outcome.message : outcome.kind);
  return outcome as Extract<ConfigOutcome, { kind: 'run' }>;
}

function error(outcome: ConfigOutcome): string {
  assert.equal(outcome.kind, 'error');
  return (outcome as { message: string }).message;
}

test('defaults with tokens from flags', () => {
  const { config, warnings } = run(loadConfig(tokens, {}, noFile));
  assert.deepEqual(config, {
    port: DEFAULT_PORT,
    host: '0.0.0.0',
    consoleTokens: ['console-token-long-enough'],
    agentTokens: ['agent-token-long-enough'],
    tokenSecrets: [],
    revocationsFile: undefined,
    corsOrigins: '*',
    logLevel: 'info',
    turn: undefined,
    redisUrl: undefined,
    redisPrefix: undefined,
    redisNodeTtlMs: undefined,
    redisAdapter: undefined,
    maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  });
  assert.deepEqual(warnings, []);
});

test('no tokens is an error that says where to put them', () => {
  assert.match(error(loadConfig([], {}, noFile)), /no console token/);
  assert.match(error(loadConfig(['--console-token', 'c'], {}, noFile)), /no agent token/);
  assert.match(
    error(loadConfig([], { TETHER_SIGNALING_CONSOLE_TOKENS: ' , ', TETHER_SIGNALING_AGENT_TOKENS: 'a' }, noFile)),
    /no console token/,
  );
});

test('tokens repeat on the command line and are comma-separated in the environment', () => {
  const fromFlags = run(loadConfig([...tokens, '--console-token', 'second-console-token'], {}, noFile));
  assert.deepEqual(fromFlags.config.consoleTokens, ['console-token-long-enough', 'second-console-token']);
  const env = { TETHER_SIGNALING_CONSOLE_TOKENS: 'c1,c2', TETHER_SIGNALING_AGENT_TOKENS: 'a1', TETHER_SIGNALING_PORT: '9000' };
  const fromEnv = run(loadConfig([], env, noFile));
  assert.deepEqual(fromEnv.config.consoleTokens, ['c1', 'c2']);
  assert.equal(fromEnv.config.port, 9000);
  assert.match(fromEnv.warnings.join(), /shorter than 16/);
});

test('flags win over the environment, which wins over the config file', () => {
  const file = JSON.stringify({ port: 7001, host: '127.0.0.1', consoleTokens: ['file-c'], agentTokens: ['file-a'], logLevel: 'warn' });
  const read = () => file;
  const onlyFile = run(loadConfig(['--config', 'x.json'], {}, read)).config;
  assert.deepEqual([onlyFile.port, onlyFile.host, onlyFile.consoleTokens, onlyFile.logLevel], [7001, '127.0.0.1', ['file-c'], 'warn']);
  const env = { TETHER_SIGNALING_PORT: '7002', TETHER_SIGNALING_CONSOLE_TOKENS: 'env-c' };
  const withEnv = run(loadConfig(['--config', 'x.json'], env, read)).config;
  assert.deepEqual([withEnv.port, withEnv.consoleTokens, withEnv.agentTokens], [7002, ['env-c'], ['file-a']]);
  const withFlags = run(loadConfig(['--config', 'x.json', '--port', '7003', '--console-token', 'flag-c'], env, read)).config;
  assert.deepEqual([withFlags.port, withFlags.consoleTokens], [7003, ['flag-c']]);
});

test('connections per address: flag, environment, config file; 0 turns the limit off', () => {
  const read = () => JSON.stringify({ maxConnectionsPerAddress: 50 });
  assert.equal(run(loadConfig([...tokens, '--config', 'x.json'], {}, read)).config.maxConnectionsPerAddress, 50);
  const env = { TETHER_SIGNALING_MAX_CONNECTIONS_PER_ADDRESS: '0' };
  assert.equal(run(loadConfig([...tokens, '--config', 'x.json'], env, read)).config.maxConnectionsPerAddress, 0);
  assert.equal(run(loadConfig([...tokens, '--max-connections-per-address', '8'], env, read)).config.maxConnectionsPerAddress, 8);
  assert.match(error(loadConfig([...tokens, '--max-connections-per-address=-1'], {}, noFile)), /invalid connections per address/);
  assert.match(error(loadConfig([...tokens, '--max-connections-per-address', 'many'], {}, noFile)), /invalid connections per address/);
  assert.match(error(loadConfig(['--config', 'x.json'], {}, () => '{"maxConnectionsPerAddress": 1.5}')), /maxConnectionsPerAddress/);
});

test('bad values are errors, not defaults', () => {
  assert.match(error(loadConfig([...tokens, '--port', 'http'], {}, noFile)), /invalid port/);
  assert.match(error(loadConfig([...tokens, '--port', '70000'], {}, noFile)), /invalid port/);
  assert.match(error(loadConfig([...tokens, '--log-level', 'loud'], {}, noFile)), /invalid log level/);
  assert.match(error(loadConfig([...tokens, '--colour'], {}, noFile)), /Unknown option/);
  assert.match(error(loadConfig(['--config', 'missing.json'], {}, noFile)), /cannot read config file missing.json/);
  assert.match(error(loadConfig(['--config', 'x.json'], {}, () => '{"port": "80"}')), /port/);
  assert.match(error(loadConfig(['--config', 'x.json'], {}, () => '{"tokens": []}')), /config file/);
  assert.match(error(loadConfig(['--config', 'x.json'], {}, () => 'not json')), /cannot read config file/);
});

test('help, version and CORS origins', () => {
  assert.equal(loadConfig(['--help'], {}, noFile).kind, 'help');
  assert.equal(loadConfig(['-v'], {}, noFile).kind, 'version');
  const cors = run(loadConfig([...tokens, '--cors-origin', 'http://localhost:5173'], {}, noFile)).config.corsOrigins;
  assert.deepEqual(cors, ['http://localhost:5173']);
});

test('a token shared by both roles is warned about', () => {
  const outcome = run(loadConfig(['--console-token', 'same-token-for-both', '--agent-token', 'same-token-for-both'], {}, noFile));
  assert.match(outcome.warnings.join(), /both a console token and an agent token/);
});

test('token secrets alone are enough; short ones are refused; the revocations file is read from each source', () => {
  const secret = 'a-token-secret-of-at-least-32-characters';
  const { config } = run(loadConfig(['--token-secret', secret, '--revocations', '/tmp/r.jsonl'], {}, noFile));
  assert.deepEqual([config.tokenSecrets, config.consoleTokens, config.revocationsFile], [[secret], [], '/tmp/r.jsonl']);
  const env = { TETHER_SIGNALING_TOKEN_SECRET: `${secret}-1,${secret}-2`, TETHER_SIGNALING_REVOCATIONS: '/tmp/env.jsonl' };
  const fromEnv = run(loadConfig([], env, noFile)).config;
  assert.deepEqual([fromEnv.tokenSecrets, fromEnv.revocationsFile], [[`${secret}-1`, `${secret}-2`], '/tmp/env.jsonl']);
  const fromFile = run(
    loadConfig(['--config', 'x.json'], {}, () => JSON.stringify({ tokenSecrets: [secret], revocationsFile: 'r.jsonl' })),
  ).config;
  assert.deepEqual([fromFile.tokenSecrets, fromFile.revocationsFile], [[secret], 'r.jsonl']);
  assert.match(error(loadConfig(['--token-secret', 'short'], {}, noFile)), /at least 32 characters/);
});

test('the Redis settings come from flags, environment or file; bad ones are refused', () => {
  const flags = run(
    loadConfig([...tokens, '--redis-url', 'redis://127.0.0.1:6390/2', '--redis-prefix', 'plant:', '--redis-node-ttl', '2000'], {}, noFile),
  ).config;
  assert.deepEqual([flags.redisUrl, flags.redisPrefix, flags.redisNodeTtlMs], ['redis://127.0.0.1:6390/2', 'plant:', 2000]);
  const env = { TETHER_SIGNALING_REDIS_URL: 'rediss://:pw@redis.example:6380', TETHER_SIGNALING_REDIS_NODE_TTL_MS: '9000' };
  const fromEnv = run(loadConfig(tokens, env, noFile)).config;
  assert.deepEqual([fromEnv.redisUrl, fromEnv.redisNodeTtlMs], ['rediss://:pw@redis.example:6380', 9000]);
  const fromFile = run(
    loadConfig(['--config', 'x.json', ...tokens], {}, () => JSON.stringify({ redisUrl: 'redis://r:6379', redisNodeTtlMs: 1000 })),
  ).config;
  assert.deepEqual([fromFile.redisUrl, fromFile.redisNodeTtlMs], ['redis://r:6379', 1000]);
  assert.match(error(loadConfig([...tokens, '--redis-url', 'http://r:6379'], {}, noFile)), /invalid Redis URL/);
  assert.match(error(loadConfig([...tokens, '--redis-node-ttl', '10'], {}, noFile)), /invalid Redis node TTL/);
  assert.match(error(loadConfig([...tokens, '--redis-node-ttl', '5s'], {}, noFile)), /invalid Redis node TTL/);
  assert.match(error(loadConfig(['--config', 'x.json', ...tokens], {}, () => '{"redisUrl": "localhost"}')), /redisUrl/);
});
