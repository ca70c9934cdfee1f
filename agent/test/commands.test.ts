/**
 * `tether-agent consoles list|revoke` on a state folder, through the built CLI. Console ids are
 * base64url and may begin with '-' (a CI run once drew one): revoke must take them as ids.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const stateDir = mkdtempSync(join(tmpdir(), 'tether-commands-'));
const fingerprint = (byte: string) => Array.from({ length: 32 }, () => byte).join(':');
const consoles = ['-85eD_OG5eytE57izuVV5g', '--dashes', 'plain-id'].map((id, i) => ({
  id, name: `console ${i}`, publicKey: `key-${i}`, fingerprint: fingerprint(`A${i}`), enrolledAt: new Date().toISOString(),
}));
writeFileSync(join(stateDir, 'consoles.json'), JSON.stringify({ consoles }));

after(() => rmSync(stateDir, { recursive: true, force: true }));

const revokedIds = () =>
  (JSON.parse(readFileSync(join(stateDir, 'consoles.json'), 'utf8')) as { consoles: { id: string; revokedAt?: string }[] }).consoles
    .filter((c) => c.revokedAt)
    .map((c) => c.id)
    .sort();

test('consoles revoke takes an id that begins with a dash, before or after --state-dir', () => {
  assert.match(execFileSync(process.execPath, [cli, 'consoles', 'revoke', '-85eD_OG5eytE57izuVV5g', '--state-dir', stateDir], { encoding: 'utf8' }), /^revoked -85eD_OG5eytE57izuVV5g \(console 0\)/);
  assert.match(execFileSync(process.execPath, [cli, 'consoles', 'revoke', '--state-dir', stateDir, '--dashes'], { encoding: 'utf8' }), /^revoked --dashes/);
  assert.deepEqual(revokedIds(), ['--dashes', '-85eD_OG5eytE57izuVV5g']);
  const list = execFileSync(process.execPath, [cli, 'consoles', 'list', '--state-dir', stateDir], { encoding: 'utf8' });
  assert.match(list, /^plain-id\s+active/m);
});

test('consoles revoke of an unknown id says so and changes nothing', () => {
  const result = spawnSync(process.execPath, [cli, 'consoles', 'revoke', '-nobody', '--state-dir', stateDir], { encoding: 'utf8' });
  assert.equal(result.status, 1);
  assert.match(result.stdout, /-nobody/);
  assert.deepEqual(revokedIds(), ['--dashes', '-85eD_OG5eytE57izuVV5g']);
});
