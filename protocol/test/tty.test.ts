import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AgentControlMessage,
  AgentTtyMessage,
  CONTROL_CHANNEL_LABEL,
  ConsoleControlMessage,
  ConsoleTtyMessage,
  encodeMessage,
  ERROR_CODES,
  MAX_FRAME_BYTES,
  MAX_TERMINAL_SIZE,
  MIN_TERMINAL_SIZE,
  parseAgentControl,
  parseAgentTtyFrame,
  parseConsoleControl,
  parseConsoleTtyFrame,
  parseValue,
  TargetRef,
  TTY_CHANNEL_PREFIX,
  TTY_PROTOCOL,
} from '@tether/protocol';

const hello = {
  type: 'hello',
  protocol: TTY_PROTOCOL,
  peer: { kind: 'agent', id: 'plc-1', name: 'Line 1', version: '0.1.0' },
  capabilities: ['resume'],
};

/** One valid example of every message kind, by the parser that accepts it. */
const valid = {
  consoleControl: [hello, { type: 'list-targets' }, { type: 'ping' }, { type: 'ping', id: 3 }, { type: 'pong', id: 3 }],
  agentControl: [
    hello,
    { type: 'targets', targets: [{ id: 'abc123', name: 'plc-runtime', image: 'vplc:1', state: 'running' }] },
    { type: 'targets', targets: [] },
    { type: 'error', code: 'DOCKER_UNAVAILABLE', message: 'cannot reach /var/run/docker.sock' },
    { type: 'ping' },
    { type: 'pong' },
  ],
  consoleTty: [
    { type: 'open', target: 'plc-runtime', cols: 80, rows: 24 },
    { type: 'open', target: 'abc123', cols: 1, rows: 1000, resume: { sessionId: 's-1', received: 0 } },
    { type: 'input', data: 'ls\r' },
    { type: 'resize', cols: 1000, rows: 1 },
    { type: 'ack', bytes: 32768 },
    { type: 'close' },
    { type: 'ping', id: 0 },
    { type: 'pong' },
  ],
  agentTty: [
    { type: 'opened', sessionId: 's_1-A', target: { id: 'abc123', name: 'plc-runtime' }, shell: '/bin/sh' },
    { type: 'output', data: '\u001b[31mred\u001b[0m' },
    { type: 'exit', code: 0 },
    { type: 'exit', code: null },
    { type: 'exit', code: 137 },
    { type: 'exit', code: 137, container: 'stopped' },
    { type: 'exit', code: 137, container: 'restarted' },
    { type: 'exit', code: null, container: 'removed' },
    { type: 'error', code: 'NOT_OPEN', message: 'send open first', fatal: false },
    { type: 'ping' },
    { type: 'pong', id: 1 },
  ],
};

const textParsers = {
  consoleControl: parseConsoleControl,
  agentControl: parseAgentControl,
  consoleTty: parseConsoleTtyFrame,
  agentTty: parseAgentTtyFrame,
};

test('every message kind parses, from text frames and from values', () => {
  const schemas = {
    consoleControl: ConsoleControlMessage,
    agentControl: AgentControlMessage,
    consoleTty: ConsoleTtyMessage,
    agentTty: AgentTtyMessage,
  };
  for (const [side, messages] of Object.entries(valid) as [keyof typeof valid, { type: string }[]][]) {
    for (const message of messages) {
      const parsed = textParsers[side](encodeMessage(message));
      assert.ok(parsed.ok, `${side} ${JSON.stringify(message)}: ${parsed.ok ? '' : parsed.error.message}`);
      const value = parsed.value as { kind: 'message'; message: unknown } | object;
      assert.deepEqual('kind' in value ? value.message : value, message);
      assert.equal(parseValue(schemas[side], message).ok, true);
    }
  }
});

test('each side refuses the messages only the other side sends', () => {
  assert.equal(parseConsoleTtyFrame(encodeMessage({ type: 'exit', code: 0 })).ok, false);
  assert.equal(parseAgentTtyFrame(encodeMessage({ type: 'open', target: 'x', cols: 80, rows: 24 })).ok, false);
  assert.equal(parseConsoleControl(encodeMessage({ type: 'targets', targets: [] })).ok, false);
  assert.equal(parseAgentControl(encodeMessage({ type: 'list-targets' })).ok, false);
  // control messages do not belong on a tty channel, and the other way round
  assert.equal(parseConsoleTtyFrame(encodeMessage({ type: 'list-targets' })).ok, false);
  assert.equal(parseConsoleControl(encodeMessage({ type: 'close' })).ok, false);
});

test('unknown fields are dropped, so newer peers can add optional ones', () => {
  const parsed = parseConsoleTtyFrame('{"type":"resize","cols":80,"rows":24,"pixelWidth":800}');
  assert.deepEqual(parsed, { ok: true, value: { kind: 'message', message: { type: 'resize', cols: 80, rows: 24 } } });
});

function refused(text: string, parse: (t: string) => { ok: boolean; error?: { code: string } } = parseConsoleTtyFrame) {
  const result = parse(text);
  assert.equal(result.ok, false, text.slice(0, 120));
  assert.equal(result.error?.code, 'BAD_MESSAGE', text.slice(0, 120));
}

test('terminal sizes outside 1..1000 or not integers are refused', () => {
  assert.equal(MIN_TERMINAL_SIZE, 1);
  assert.equal(MAX_TERMINAL_SIZE, 1000);
  for (const bad of ['0', '1001', '-1', '80.5', '"80"', 'null', 'true', '[80]', '1e400']) {
    refused(`{"type":"resize","cols":${bad},"rows":24}`);
    refused(`{"type":"resize","cols":80,"rows":${bad}}`);
    refused(`{"type":"open","target":"plc","cols":${bad},"rows":24}`);
  }
  refused('{"type":"resize","cols":80}');
  refused('{"type":"resize"}');
});

test('missing fields and wrong types are refused', () => {
  refused('{"type":"open","cols":80,"rows":24}');
  refused('{"type":"open","target":7,"cols":80,"rows":24}');
  refused('{"type":"input"}');
  refused('{"type":"input","data":[1,2]}');
  refused('{"type":"ack"}');
  refused('{"type":"ack","bytes":0}');
  refused('{"type":"ack","bytes":-5}');
  refused('{"type":"ack","bytes":1.5}');
  refused(`{"type":"ack","bytes":${2 ** 30 + 1}}`);
  refused('{"type":"ping","id":-1}');
  refused('{"type":"open","target":"plc","cols":80,"rows":24,"resume":{"sessionId":"s"}}');
  refused('{"type":"open","target":"plc","cols":80,"rows":24,"resume":{"sessionId":"a/b","received":0}}');
  refused('{"type":"exit","code":"0"}', parseAgentTtyFrame);
  refused('{"type":"exit"}', parseAgentTtyFrame);
  refused('{"type":"opened","sessionId":"","target":{"id":"a","name":"b"},"shell":"sh"}', parseAgentTtyFrame);
  refused('{"type":"error","code":"SOMETHING_ELSE","message":"x"}', parseAgentTtyFrame);
  refused('{"type":"error","code":"BAD_MESSAGE"}', parseAgentTtyFrame);
  refused('{"type":"hello","protocol":"tether-tty/1","peer":{"kind":"server","version":"1"},"capabilities":[]}', parseConsoleControl);
  refused('{"type":"targets","targets":[{"id":"a","name":"b","image":"c","state":"exploded"}]}', parseAgentControl);
});

test('a hello naming another protocol parses, so that the receiver can answer UNSUPPORTED_PROTOCOL, not BAD_MESSAGE', () => {
  const parsed = parseConsoleControl(
    '{"type":"hello","protocol":"tether-tty/2","peer":{"kind":"console","version":"1"},"capabilities":[]}',
  );
  assert.ok(parsed.ok && parsed.value.type === 'hello' && parsed.value.protocol === 'tether-tty/2');
});

test('strings over their bounds are refused', () => {
  const long = (n: number) => JSON.stringify('a'.repeat(n));
  refused(`{"type":"open","target":${long(129)},"cols":80,"rows":24}`);
  refused(`{"type":"open","target":"plc","cols":80,"rows":24,"resume":{"sessionId":${long(65)},"received":0}}`);
  refused(`{"type":"error","code":"INTERNAL","message":${long(1025)}}`, parseAgentTtyFrame);
  refused(`{"type":"opened","sessionId":"s","target":{"id":"a","name":"b"},"shell":${long(257)}}`, parseAgentTtyFrame);
  const capabilities = JSON.stringify(Array.from({ length: 65 }, (_, i) => `c${i}`));
  refused(
    `{"type":"hello","protocol":"tether-tty/1","peer":{"kind":"console","version":"1"},"capabilities":${capabilities}}`,
    parseConsoleControl,
  );
  refused(
    `{"type":"hello","protocol":"tether-tty/1","peer":{"kind":"console","version":${long(65)}},"capabilities":[]}`,
    parseConsoleControl,
  );
  // at the bound is fine
  assert.equal(parseConsoleTtyFrame(`{"type":"open","target":"a${'b'.repeat(127)}","cols":80,"rows":24}`).ok, true);
  assert.ok(MAX_FRAME_BYTES > 129);
});

test('target names are container names or ids, never paths or empty', () => {
  for (const good of ['plc', 'plc-runtime_1', 'a.b', '0123456789ab', 'A']) assert.equal(TargetRef.safeParse(good).success, true, good);
  for (const bad of ['', '../x', '/plc', 'plc/x', '.hidden', '-flag', '_x', 'has space', 'plc\n', 'ünï', 'a'.repeat(129)]) {
    assert.equal(TargetRef.safeParse(bad).success, false, JSON.stringify(bad));
    refused(encodeMessage({ type: 'open', target: bad, cols: 80, rows: 24 }));
  }
});

test('error codes are unique and every one is accepted in an error message', () => {
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  for (const code of ERROR_CODES) {
    assert.equal(parseAgentTtyFrame(encodeMessage({ type: 'error', code, message: 'x' })).ok, true);
  }
});

test('channel labels and protocol name', () => {
  assert.equal(TTY_PROTOCOL, 'tether-tty/1');
  assert.equal(CONTROL_CHANNEL_LABEL, 'control');
  assert.equal(TTY_CHANNEL_PREFIX, 'tty:');
});

test('running: the host pid (0 when Docker did not say) and the notices learnt once the shell runs', () => {
  for (const running of [
    { type: 'running', hostPid: 4242 },
    { type: 'running', hostPid: 0, notices: ['could not lower the priority'] },
  ]) {
    const parsed = parseAgentTtyFrame(encodeMessage(running as never));
    assert.ok(parsed.ok && parsed.value.kind === 'message', JSON.stringify(parsed));
    assert.deepEqual(parsed.value.message, running);
  }
  for (const bad of [{ type: 'running' }, { type: 'running', hostPid: -1 }, { type: 'running', hostPid: 1.5 }]) {
    const parsed = parseAgentTtyFrame(JSON.stringify(bad));
    assert.ok(!parsed.ok, JSON.stringify(bad));
    assert.equal(parsed.error.code, 'BAD_MESSAGE');
  }
});

test("exit's container: a fate this console does not know reads as none, and the exit itself is kept", () => {
  const parsed = parseAgentTtyFrame('{"type":"exit","code":137,"container":"frozen-by-a-later-agent"}');
  assert.ok(parsed.ok && parsed.value.kind === 'message', JSON.stringify(parsed));
  const message = parsed.value.message;
  assert.ok(message.type === 'exit');
  assert.equal(message.code, 137);
  assert.equal(message.container, undefined);
});
