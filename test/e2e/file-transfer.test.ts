/**
 * Files in and out of a container through the console (issue 14), end to end: real Chromium, the
 * agent from its bundle, busybox containers. Uploads from the tab's menu and by drag-and-drop land
 * in the shell's working directory, owned by the exec user, with the same SHA-256 as on the host;
 * downloads are saved through the browser's download path; a directory arrives as a tar archive
 * that unpacks to the same tree. Refusals carry their codes, cancel leaves nothing, an existing name
 * asks first, typing goes on during a transfer, and the audit log has one record per transfer.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, it } from 'node:test';
import type { ConsolePage, TransferFacts } from '../../harness/console-page.js';
import { docker, type TestContainer } from '../../harness/docker.js';
import { auditEntries } from '../../harness/lan-pairing.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

const BIG_BYTES = 50 * 1024 * 1024;
const HOME = '/home/plc';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;
let tabId: string;
let work: string;
let big: { path: string; sha256: string };
/** every transfer the tests ran (listings are not transfers), as the audit log must show it */
const expected: { direction: 'upload' | 'download'; result: string; code?: string }[] = [];

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const inContainer = (c: TestContainer, script: string) => docker('exec', '-u', '1000:1000', c.id, 'sh', '-c', script);

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tether-files-'));
  const bytes = randomBytes(BIG_BYTES);
  big = { path: join(work, 'big.bin'), sha256: sha256(bytes) };
  writeFileSync(big.path, bytes);
  stack = await startStack({ name: 'files' });
  container = await stack.startContainer({ namePrefix: 'files-plc' });
  ui = await stack.openConsole();
  tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  // The shell starts in `/`, which uid 1000 may not write: the transfers follow it home.
  await ui.typeLine(tabId, `cd ${HOME} && echo in""-home`);
  await ui.waitForLine(tabId, 'in-home');
});

after(async () => {
  await stack?.close();
  // the 50 MB file, its download and the others: about 110 MB a run
  if (work) rmSync(work, { recursive: true, force: true });
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

/** The tab's menu, by right-click on its tab, then an item. */
async function menu(tab: string, item: 'menu-upload' | 'menu-download'): Promise<void> {
  await ui.tabButton(tab).click({ button: 'right' });
  await ui.page.locator(`[data-testid="tab-menu"] [data-testid="${item}"]`).click();
}

/** Uploads host files through "Upload…", into `dir` when given; returns the new transfers' ids. */
async function uploadByDialog(tab: string, files: string[], dir?: string): Promise<string[]> {
  const before = new Set((await ui.transfers(tab)).map((t) => t.id));
  await menu(tab, 'menu-upload');
  const dialog = ui.page.locator('[data-testid="upload-dialog"]');
  await dialog.locator('[data-testid="upload-files"]').setInputFiles(files);
  if (dir) await dialog.locator('[data-testid="upload-dir"]').fill(dir);
  await dialog.locator('[data-testid="upload-dialog-accept"]').click();
  const started = await waitFor(async () => {
    const fresh = (await ui.transfers(tab)).filter((t) => !before.has(t.id));
    return fresh.length >= files.length ? fresh : undefined;
  }, 'the uploads to appear in the tab');
  return started.map((t) => t.id);
}

/** Waits until the transfer has ended (any way) and returns how. */
async function finished(tab: string, id: string, timeoutMs = 120_000): Promise<TransferFacts> {
  return waitFor(
    async () => {
      const facts = (await ui.transfers(tab)).find((t) => t.id === id);
      if (!facts) throw new Error(`transfer ${id} is not listed`);
      return ['done', 'failed', 'cancelled', 'interrupted'].includes(facts.state) ? facts : undefined;
    },
    `transfer ${id} to end`,
    timeoutMs,
  );
}

/** Drops `files` (made in the page: name and text) on the tab's terminal, as a file manager would. */
async function dropFiles(tab: string, files: { name: string; text: string }[]): Promise<void> {
  await ui.page.evaluate(
    ([id, list]) => {
      const body = document.querySelector(`.tab-panel[data-tab-id="${id}"] .tab-body`);
      if (!body) throw new Error('no tab body');
      const data = new DataTransfer();
      for (const f of list) data.items.add(new File([f.text], f.name));
      body.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    },
    [tab, files] as const,
  );
}

test("a 50 MB upload from the menu lands in the shell's directory, owned by the exec user, with the same SHA-256; typing still echoes meanwhile", async () => {
  const [id] = await uploadByDialog(tabId, [big.path]);
  await waitFor(async () => ((await ui.transfers(tabId)).find((t) => t.id === id)?.rate ?? 0) > 0, 'the upload to show a rate');
  await ui.screenshot('console-transfer-progress');
  // The terminal answers while the transfer runs: the echo of a command arrives.
  await ui.typeLine(tabId, 'echo typed""-during-upload');
  await ui.waitForLine(tabId, 'typed-during-upload', 60_000);
  const facts = await finished(tabId, id!);
  expected.push({ direction: 'upload', result: 'ok' });
  assert.equal(facts.state, 'done', JSON.stringify(facts.error));
  assert.equal(facts.path, `${HOME}/big.bin`);
  assert.equal(facts.sha256, big.sha256);
  const [sum] = (await inContainer(container, `sha256sum ${HOME}/big.bin`)).split(/\s+/);
  assert.equal(sum, big.sha256, 'the file in the container has the SHA-256 of the file on the host');
  assert.equal(await inContainer(container, `stat -c %u:%g ${HOME}/big.bin`), '1000:1000');
  assert.equal(await inContainer(container, `ls -a ${HOME} | grep -c tether-upload || true`), '0', 'no temporary file is left');
});

test('a 50 MB download from the menu, with the path completed from a listing, is saved with the same SHA-256; typing still echoes meanwhile', async () => {
  await menu(tabId, 'menu-download');
  const dialog = ui.page.locator('[data-testid="download-dialog"]');
  const input = dialog.locator('[data-testid="download-path"]');
  await input.fill('bi');
  // The listing of the shell's directory offers the file; Tab completes its name.
  await dialog.locator('[data-testid="download-entry"][data-name="big.bin"]').waitFor();
  await ui.screenshot('console-transfer-download');
  await input.press('Tab');
  await waitFor(async () => (await input.inputValue()) === 'big.bin', 'Tab to complete big.bin');
  const saved = ui.page.waitForEvent('download', { timeout: 180_000 });
  await dialog.locator('[data-testid="download-dialog-accept"]').click();
  const id = await waitFor(
    async () => (await ui.transfers(tabId)).find((t) => t.direction === 'download' && t.state === 'running' && t.bytes > 0)?.id,
    'the download to move bytes',
  );
  await ui.typeLine(tabId, 'echo typed""-during-download');
  await ui.waitForLine(tabId, 'typed-during-download', 60_000);
  const facts = await finished(tabId, id);
  expected.push({ direction: 'download', result: 'ok' });
  assert.equal(facts.state, 'done', JSON.stringify(facts.error));
  assert.equal(facts.sha256, big.sha256);
  const download = await saved;
  assert.equal(download.suggestedFilename(), 'big.bin');
  const path = join(work, 'downloaded.bin');
  await download.saveAs(path);
  assert.equal(sha256(readFileSync(path)), big.sha256, 'the saved file has the SHA-256 of the original');
});

test('several transfers at once: two uploads and a download run together, each intact', async () => {
  const files = [0, 1].map((i) => {
    const bytes = randomBytes(5 * 1024 * 1024 + i);
    const path = join(work, `parallel-${i}.bin`);
    writeFileSync(path, bytes);
    return { path, sha256: sha256(bytes), name: `parallel-${i}.bin` };
  });
  const saved = ui.page.waitForEvent('download', { timeout: 180_000 });
  await menu(tabId, 'menu-download');
  const dialog = ui.page.locator('[data-testid="download-dialog"]');
  await dialog.locator('[data-testid="download-path"]').fill(`${HOME}/big.bin`);
  await dialog.locator('[data-testid="download-dialog-accept"]').click();
  const ids = await uploadByDialog(
    tabId,
    files.map((f) => f.path),
  );
  const running = (await ui.transfers(tabId)).filter((t) => !['done', 'failed', 'cancelled', 'interrupted'].includes(t.state));
  const all = await Promise.all(
    [...ids, ...running.filter((t) => t.direction === 'download').map((t) => t.id)].map((id) => finished(tabId, id)),
  );
  expected.push({ direction: 'upload', result: 'ok' }, { direction: 'upload', result: 'ok' }, { direction: 'download', result: 'ok' });
  for (const facts of all) assert.equal(facts.state, 'done', `${facts.name}: ${JSON.stringify(facts.error)}`);
  for (const file of files) {
    assert.equal((await inContainer(container, `sha256sum ${HOME}/${file.name}`)).split(/\s+/)[0], file.sha256, file.name);
  }
  const download = await saved;
  const path = join(work, 'parallel-download.bin');
  await download.saveAs(path);
  assert.equal(sha256(readFileSync(path)), big.sha256);
});

test('files dropped on the tab upload to the working directory; names that are paths (../, absolute) are refused with BAD_PATH and write nothing', async () => {
  const before = (await ui.transfers(tabId)).length;
  await dropFiles(tabId, [
    { name: 'dropped.txt', text: 'dropped on the tab\n' },
    { name: '../escape.txt', text: 'must not leave the chosen directory\n' },
    { name: '/tmp/absolute.txt', text: 'must not go elsewhere\n' },
  ]);
  const all = await waitFor(async () => {
    const list = (await ui.transfers(tabId)).slice(before);
    return list.length === 3 && list.every((t) => ['done', 'failed', 'cancelled', 'interrupted'].includes(t.state)) ? list : undefined;
  }, 'the three dropped files to end');
  const byName = new Map(all.map((t) => [t.name, t]));
  assert.equal(byName.get('dropped.txt')?.state, 'done');
  assert.equal(await inContainer(container, `cat ${HOME}/dropped.txt`), 'dropped on the tab');
  for (const name of ['../escape.txt', '/tmp/absolute.txt']) {
    assert.equal(byName.get(name)?.state, 'failed', name);
    assert.equal(byName.get(name)?.error?.code, 'BAD_PATH', name);
  }
  expected.push(
    { direction: 'upload', result: 'ok' },
    { direction: 'upload', result: 'refused', code: 'BAD_PATH' },
    { direction: 'upload', result: 'refused', code: 'BAD_PATH' },
  );
  assert.equal(
    await inContainer(container, 'ls /home/escape.txt /tmp/absolute.txt 2>/dev/null | wc -l'),
    '0',
    'nothing was written outside the directory',
  );
  // A file dropped beside the terminals is refused, not opened in place of the console.
  const prevented = await ui.page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['x'], 'stray.txt'));
    const sidebar = document.querySelector('.sidebar');
    if (!sidebar) throw new Error('no sidebar');
    return !sidebar.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  assert.equal(prevented, true, "the browser's default (open the file) was prevented");
  assert.equal((await ui.transfers(tabId)).length, before + 3, 'and nothing was uploaded');
});

test('an upload into a directory the exec user may not write is refused with PERMISSION_DENIED, and nothing is written there', async () => {
  const small = join(work, 'notes.txt');
  writeFileSync(small, 'notes\n');
  const [id] = await uploadByDialog(tabId, [small], '/etc');
  const facts = await finished(tabId, id!);
  expected.push({ direction: 'upload', result: 'refused', code: 'PERMISSION_DENIED' });
  assert.equal(facts.state, 'failed');
  assert.equal(facts.error?.code, 'PERMISSION_DENIED');
  assert.equal(await docker('exec', container.id, 'sh', '-c', 'ls -a /etc | grep -c -e notes.txt -e tether-upload || true'), '0');
});

test('an upload over an existing name asks first: Keep leaves the file, Replace replaces it', async () => {
  const file = join(work, 'config.ini');
  writeFileSync(file, 'version=1\n');
  const [first] = await uploadByDialog(tabId, [file]);
  assert.equal((await finished(tabId, first!)).state, 'done');
  writeFileSync(file, 'version=2\n');
  const confirm = ui.page.locator('[data-testid="confirm-dialog"]');
  const [keep] = await uploadByDialog(tabId, [file]);
  await confirm.waitFor();
  assert.match((await confirm.textContent()) ?? '', /Replace config\.ini\?/);
  await confirm.locator('[data-testid="confirm-cancel"]').click();
  assert.equal((await finished(tabId, keep!)).error?.code, 'FILE_EXISTS');
  assert.equal(await inContainer(container, `cat ${HOME}/config.ini`), 'version=1');
  await uploadByDialog(tabId, [file]);
  await confirm.waitFor();
  await confirm.locator('[data-testid="confirm-accept"]').click();
  await waitFor(async () => (await inContainer(container, `cat ${HOME}/config.ini`)) === 'version=2', 'the file to be replaced');
  await waitFor(
    async () => (await ui.transfers(tabId)).some((t) => t.name === 'config.ini' && t.state === 'done' && t.id !== first),
    'the replacing upload to be done',
  );
  // the first upload; two refused with FILE_EXISTS (each asked); the one with overwrite
  expected.push(
    { direction: 'upload', result: 'ok' },
    { direction: 'upload', result: 'refused', code: 'FILE_EXISTS' },
    { direction: 'upload', result: 'refused', code: 'FILE_EXISTS' },
    { direction: 'upload', result: 'ok' },
  );
});

test('Cancel during an upload leaves no file, partial or temporary', async () => {
  await inContainer(container, `mkdir -p ${HOME}/cancel`);
  const [id] = await uploadByDialog(tabId, [big.path], `${HOME}/cancel`);
  await waitFor(async () => ((await ui.transfers(tabId)).find((t) => t.id === id)?.bytes ?? 0) > 1024 * 1024, 'a megabyte to arrive');
  await ui.page.locator(`[data-testid="transfer"][data-transfer-id="${id}"] [data-testid="transfer-cancel"]`).click();
  const facts = await finished(tabId, id!);
  expected.push({ direction: 'upload', result: 'cancelled' });
  assert.equal(facts.state, 'cancelled');
  // The agent removes the temporary file once it has stopped `cat`.
  await waitFor(
    async () => (await inContainer(container, `ls -a ${HOME}/cancel | grep -v -e '^\\.$' -e '^\\.\\.$' | wc -l`)) === '0',
    'the cancelled upload to leave nothing',
  );
});

test('a connection lost mid-upload says how far the upload got and keeps nothing; Retry on the resumed tab starts it again and completes it', async () => {
  await inContainer(container, `mkdir -p ${HOME}/retry`);
  const [id] = await uploadByDialog(tabId, [big.path], `${HOME}/retry`);
  await waitFor(async () => ((await ui.transfers(tabId)).find((t) => t.id === id)?.bytes ?? 0) > 1024 * 1024, 'a megabyte to arrive');
  assert.equal(await ui.dropPath(stack.agent.agentId, 0), true);
  const lost = await finished(tabId, id!);
  expected.push({ direction: 'upload', result: 'interrupted' });
  assert.equal(lost.state, 'interrupted');
  assert.match(lost.error?.message ?? '', /^interrupted after \d+ of 52428800 bytes/);
  await waitFor(
    async () => (await inContainer(container, `ls -a ${HOME}/retry | grep -v -e '^\\.$' -e '^\\.\\.$' | wc -l`)) === '0',
    'the interrupted upload to leave nothing',
  );
  // The tab takes its shell back on a new connection; the row's Retry sends the file again from the start.
  await waitFor(async () => (await ui.tab(tabId)).state === 'open' && (await ui.tab(tabId)).resumeCount > 0, 'the tab to resume', 60_000);
  await ui.page.locator(`[data-testid="transfer"][data-transfer-id="${id}"] [data-testid="transfer-retry"]`).click();
  const retried = await waitFor(
    async () => (await ui.transfers(tabId)).find((t) => t.name === 'big.bin' && t.id !== id && t.path === `${HOME}/retry/big.bin`),
    'the retried upload',
  );
  const facts = await finished(tabId, retried.id);
  expected.push({ direction: 'upload', result: 'ok' });
  assert.equal(facts.state, 'done', JSON.stringify(facts.error));
  assert.equal((await inContainer(container, `sha256sum ${HOME}/retry/big.bin`)).split(/\s+/)[0], big.sha256);
});

test('a directory downloads as a tar archive that unpacks to the same tree', async () => {
  await inContainer(
    container,
    [
      `mkdir -p ${HOME}/tree/logs/old ${HOME}/tree/empty`,
      `printf 'line 1\\nline 2\\n' > ${HOME}/tree/logs/app.log`,
      `head -c 300000 /dev/urandom > ${HOME}/tree/logs/old/core.bin`,
      `printf 'x' > "${HOME}/tree/name with spaces.txt"`,
    ].join(' && '),
  );
  const saved = ui.page.waitForEvent('download', { timeout: 60_000 });
  await menu(tabId, 'menu-download');
  const dialog = ui.page.locator('[data-testid="download-dialog"]');
  await dialog.locator('[data-testid="download-path"]').fill('tree');
  await dialog.locator('[data-testid="download-dialog-accept"]').click();
  const download = await saved;
  expected.push({ direction: 'download', result: 'ok' });
  assert.equal(download.suggestedFilename(), 'tree.tar');
  const archive = join(work, 'tree.tar');
  await download.saveAs(archive);
  const out = join(work, 'unpacked');
  mkdirSync(out);
  execFileSync('tar', ['-xf', archive, '-C', out]);
  const local: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        local.push(`d ${relative(out, path)}`);
        walk(path);
      } else local.push(`f ${relative(out, path)} ${sha256(readFileSync(path))}`);
    }
  };
  walk(out);
  const remote = await inContainer(
    container,
    `cd ${HOME} && find tree | sort | while read -r p; do if [ -d "$p" ]; then echo "d $p"; else echo "f $p $(sha256sum < "$p" | cut -d' ' -f1)"; fi; done`,
  );
  assert.deepEqual(local.sort(), remote.split('\n').sort());
});

test('a container whose rule turns transfers off refuses uploads and downloads with TRANSFER_NOT_ALLOWED', async () => {
  const closed = await stack.startContainer({ namePrefix: 'files-off', labels: { 'tether.vplc': 'true', 'tether.transfers': 'off' } });
  const offTab = await ui.openTargetByClick(stack.agent.agentId, closed.name, 45_000);
  await ui.waitForPrompt(offTab);
  const file = join(work, 'refused.txt');
  writeFileSync(file, 'refused\n');
  const [up] = await uploadByDialog(offTab, [file], '/tmp');
  assert.equal((await finished(offTab, up!)).error?.code, 'TRANSFER_NOT_ALLOWED');
  await menu(offTab, 'menu-download');
  const dialog = ui.page.locator('[data-testid="download-dialog"]');
  await dialog.locator('[data-testid="download-path"]').fill('/etc/passwd');
  // The listing is refused the same way, and says so in the dialog.
  await waitFor(
    async () => /TRANSFER_NOT_ALLOWED/.test((await dialog.locator('[data-testid="download-where"]').textContent()) ?? ''),
    'the listing to be refused',
  );
  await dialog.locator('[data-testid="download-dialog-accept"]').click();
  const down = await waitFor(async () => (await ui.transfers(offTab)).find((t) => t.direction === 'download'), 'the download to appear');
  assert.equal((await finished(offTab, down.id)).error?.code, 'TRANSFER_NOT_ALLOWED');
  expected.push(
    { direction: 'upload', result: 'refused', code: 'TRANSFER_NOT_ALLOWED' },
    { direction: 'download', result: 'refused', code: 'TRANSFER_NOT_ALLOWED' },
  );
  assert.equal(await docker('exec', closed.id, 'sh', '-c', 'ls /tmp | grep -c refused || true'), '0');
});

test('the audit log has one record per transfer: who, container, path, direction, bytes, SHA-256, result', async () => {
  const records = await waitFor(() => {
    const found = auditEntries(stack.agent.stateDir).filter((r) => r.event === 'transfer');
    return found.length >= expected.length ? found : undefined;
  }, `${expected.length} transfer records`);
  assert.equal(records.length, expected.length, JSON.stringify(records, null, 1));
  const summary = (r: { direction?: unknown; result?: unknown; code?: unknown }) =>
    `${String(r.direction)} ${String(r.result)} ${String(r.code ?? '')}`;
  assert.deepEqual(records.map(summary).sort(), expected.map(summary).sort());
  const bigUpload = records.find((r) => r.direction === 'upload' && r.path === `${HOME}/big.bin`);
  assert.ok(bigUpload, 'the 50 MB upload is audited with its final path');
  assert.equal(bigUpload.sha256, big.sha256);
  assert.equal(bigUpload.bytes, BIG_BYTES);
  assert.equal(bigUpload.container, container.name);
  assert.equal(bigUpload.user, '1000:1000');
  assert.ok(typeof bigUpload.sessionId === 'string' && typeof bigUpload.connection === 'string', 'who and which session');
  const bigDownload = records.find((r) => r.direction === 'download' && r.path === `${HOME}/big.bin`);
  assert.equal(bigDownload?.sha256, big.sha256);
  assert.equal(bigDownload?.result, 'ok');
});
