/** The path rules and the per-container transfer rules of agent/src/transfer, and their configuration. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { checkFileName, resolvePath, splitPath } from '../src/transfer/transfer-paths.js';
import { byteSize, TransferRules } from '../src/transfer/transfer-rules.js';

test('an upload name is one file name: "/", "..", ".", NUL, empty and over 255 bytes are BAD_PATH', () => {
  for (const name of ['../x', 'a/b', '/etc/passwd', '..', '.', '', 'a\0b', 'é'.repeat(128)]) {
    const checked = checkFileName(name);
    assert.ok(!checked.ok && checked.error.code === 'BAD_PATH', JSON.stringify(name));
  }
  for (const name of ['a.txt', '.hidden', '...', 'with space', 'new\nline', 'x'.repeat(255), '-rf'])
    assert.ok(checkFileName(name).ok, JSON.stringify(name));
});

test("a path resolves against the shell's working directory, lexically", () => {
  assert.deepEqual(resolvePath('/home/plc', 'logs/app.log'), { ok: true, value: '/home/plc/logs/app.log' });
  assert.deepEqual(resolvePath('/home/plc', '../../etc/passwd'), { ok: true, value: '/etc/passwd' });
  assert.deepEqual(resolvePath('/home/plc', '/var//log/'), { ok: true, value: '/var/log' });
  const long = resolvePath('/', 'a'.repeat(5000));
  assert.ok(!long.ok && long.error.code === 'BAD_PATH');
  assert.deepEqual(splitPath('/home/plc/logs'), { parent: '/home/plc', base: 'logs' });
  assert.deepEqual(splitPath('/'), { parent: '/', base: '.' });
});

test("transfer rules: a container's configured rule wins; its label may only make the default stricter", () => {
  const rules = new TransferRules({
    mode: 'both',
    maxBytes: 1000,
    containers: { 'plc-ro': { mode: 'download' }, 'plc-big': { maxBytes: 0 }, 'plc-open': { mode: 'both' } },
  });
  assert.deepEqual(rules.allowanceFor('plc-1', {}), { mode: 'both', upload: true, download: true, maxBytes: 1000 });
  assert.deepEqual(rules.allowanceFor('plc-ro', {}), { mode: 'download', upload: false, download: true, maxBytes: 1000 });
  assert.deepEqual(rules.allowanceFor('plc-big', {}), { mode: 'both', upload: true, download: true, maxBytes: 0 });
  assert.equal(rules.allowanceFor('plc-1', { 'tether.transfers': 'off' }).mode, 'off');
  assert.equal(rules.allowanceFor('plc-1', { 'tether.transfers': 'download' }).mode, 'download');
  assert.equal(
    rules.allowanceFor('plc-open', { 'tether.transfers': 'off' }).mode,
    'both',
    "the operator's rule for the container wins over its label",
  );
  const closed = new TransferRules({ mode: 'off', maxBytes: 0, containers: {} });
  assert.equal(closed.allowanceFor('plc-1', { 'tether.transfers': 'both' }).mode, 'off', 'a label cannot open what the agent closed');
  assert.equal(closed.allowanceFor('plc-1', { 'tether.transfers': 'nonsense' }).mode, 'off');
});

test('configuration: --transfers, --transfer-max-size and transferRules in the config file', () => {
  const base = ['--signaling-url', 'http://127.0.0.1:1', '--token', 't'];
  const defaults = loadConfig(base, {});
  assert.ok(defaults.ok && defaults.value.kind === 'run');
  assert.equal(defaults.value.config.transfers, 'both');
  assert.equal(defaults.value.config.transferMaxBytes, 1024 ** 3);
  const file = join(mkdtempSync(join(tmpdir(), 'tether-transfer-config-')), 'agent.json');
  writeFileSync(file, JSON.stringify({ transferRules: { 'plc-1': { mode: 'download', maxBytes: 5 } } }));
  const set = loadConfig([...base, '--transfers', 'download', '--transfer-max-size', '500M', '--config', file], {});
  assert.ok(set.ok && set.value.kind === 'run');
  assert.equal(set.value.config.transfers, 'download');
  assert.equal(set.value.config.transferMaxBytes, 500 * 1024 ** 2);
  assert.deepEqual(set.value.config.transferRules, { 'plc-1': { mode: 'download', maxBytes: 5 } });
  const bad = loadConfig([...base, '--transfers', 'sometimes'], {});
  assert.ok(!bad.ok && /transfers/.test(bad.error));
  const badSize = loadConfig([...base, '--transfer-max-size', 'lots'], {});
  assert.ok(!badSize.ok && /transferMaxBytes/.test(badSize.error));
  writeFileSync(file, JSON.stringify({ transferRules: { 'plc-1': { mode: 'download', extra: true } } }));
  const badRule = loadConfig([...base, '--config', file], {});
  assert.ok(!badRule.ok && /transferRules/.test(badRule.error));
  assert.equal(byteSize('2G'), 2 * 1024 ** 3);
  assert.equal(byteSize('512k'), 512 * 1024);
  assert.equal(byteSize('123'), 123);
});
