import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { DockerTargets, isExposed } from '../src/docker-targets.js';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';

describe('docker targets', () => {
  const docker = new Docker();
  const targets = new DockerTargets(docker, { 'tether.vplc': 'true' });
  let exposed: TestContainer;
  let hidden: TestContainer;
  let stopped: TestContainer;

  before(async () => {
    await ensureDocker();
    [exposed, hidden, stopped] = await Promise.all([
      startContainer({ namePrefix: 'tether-targets-exposed' }),
      startContainer({ namePrefix: 'tether-targets-hidden', labels: { other: 'x' } }),
      startContainer({ namePrefix: 'tether-targets-stopped' }),
    ]);
    await stopped.stop();
  });

  after(async () => {
    await Promise.all([exposed, hidden, stopped].filter(Boolean).map((c) => c.remove()));
  });

  test('the listing holds the labelled containers only, with their state', async () => {
    const listed = await targets.list();
    assert.ok(listed.ok);
    const names = listed.value.map((t) => t.name);
    assert.ok(names.includes(exposed.name));
    assert.ok(names.includes(stopped.name));
    assert.ok(!names.includes(hidden.name));
    const running = listed.value.find((t) => t.name === exposed.name);
    assert.equal(running?.state, 'running');
    assert.equal(running?.id, exposed.id.slice(0, 12));
    assert.equal(listed.value.find((t) => t.name === stopped.name)?.state, 'stopped');
  });

  test('resolves an exposed running container by name and by id', async () => {
    const byName = await targets.resolve(exposed.name);
    assert.ok(byName.ok);
    assert.equal(byName.value.id, exposed.id);
    const byId = await targets.resolve(exposed.id.slice(0, 12));
    assert.ok(byId.ok);
    assert.equal(byId.value.name, exposed.name);
  });

  test('an unknown container is UNKNOWN_TARGET', async () => {
    const result = await targets.resolve('tether-no-such-container');
    assert.ok(!result.ok);
    assert.equal(result.error.code, 'UNKNOWN_TARGET');
  });

  test('a container without the label is refused as if it did not exist: same code, same words, no name behind an id (issue 11)', async () => {
    const result = await targets.resolve(hidden.name);
    assert.ok(!result.ok);
    assert.equal(result.error.code, 'UNKNOWN_TARGET');
    const missing = await targets.resolve('tether-no-such-container');
    assert.ok(!missing.ok);
    assert.equal(result.error.message.replace(hidden.name, '<ref>'), missing.error.message.replace('tether-no-such-container', '<ref>'));
    const byId = await targets.resolve(hidden.id.slice(0, 12));
    assert.ok(!byId.ok && byId.error.code === 'UNKNOWN_TARGET');
    assert.ok(!byId.error.message.includes(hidden.name), byId.error.message);
  });

  test('a stopped container is TARGET_NOT_RUNNING', async () => {
    const result = await targets.resolve(stopped.name);
    assert.ok(!result.ok);
    assert.equal(result.error.code, 'TARGET_NOT_RUNNING');
  });

  test('the label rule: every label must match; an empty value accepts any', () => {
    assert.ok(isExposed({ a: '1', b: '2' }, { a: '1' }));
    assert.ok(isExposed({ a: 'anything' }, { a: '' }));
    assert.ok(!isExposed({ a: '2' }, { a: '1' }));
    assert.ok(!isExposed({ a: '1' }, { a: '1', b: '' }));
    assert.ok(!isExposed(null, { a: '1' }));
  });
});
