/**
 * File transfers through the console (issue 14): a 50 MB file of random bytes uploaded through the
 * tab's "Upload…" and downloaded through "Download…", timed in the page from opening the transfer's
 * channel to its end (SHA-256 checked by both ends, the upload renamed into place, the download
 * handed to the browser's download path), and checked again here against the host's copy; and the
 * same file through `docker cp`, both ways, in the same run.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConsolePage, TransferFacts } from '../harness/console-page.js';
import { docker, type TestContainer } from '../harness/docker.js';
import { waitFor } from '../harness/wait.js';

const run = promisify(execFile);

/** 50 MiB of random bytes (52.4 MB). */
export const TRANSFER_FILE_BYTES = 50 * 1024 * 1024;
const DIR = '/home/plc';

export interface TransferFigures {
  /** MB/s (10^6 bytes) per run */
  upload: number[];
  download: number[];
  dockerCpUpload: number[];
  dockerCpDownload: number[];
  /** keystroke round trips (ms) in the same tab while an upload / a download of the file runs */
  echoDuringUpload: number[];
  echoDuringDownload: number[];
  fileBytes: number;
}

/** Keystrokes timed while one upload and one download run. */
const ECHO_DURING_SAMPLES = 100;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function ended(ui: ConsolePage, tabId: string, id: string): Promise<TransferFacts> {
  return waitFor(
    async () => {
      const facts = (await ui.transfers(tabId)).find((t) => t.id === id);
      return facts && ['done', 'failed', 'cancelled', 'interrupted'].includes(facts.state) ? facts : undefined;
    },
    `transfer ${id} to end`,
    300_000,
    50,
  );
}

async function menu(ui: ConsolePage, tabId: string, item: string): Promise<void> {
  await ui.tabButton(tabId).click({ button: 'right' });
  await ui.page.locator(`[data-testid="tab-menu"] [data-testid="${item}"]`).click();
}

async function uploadOnce(ui: ConsolePage, tabId: string, path: string, expected: string): Promise<number> {
  const before = new Set((await ui.transfers(tabId)).map((t) => t.id));
  await menu(ui, tabId, 'menu-upload');
  const dialog = ui.page.locator('[data-testid="upload-dialog"]');
  await dialog.locator('[data-testid="upload-files"]').setInputFiles(path);
  await dialog.locator('[data-testid="upload-dialog-accept"]').click();
  const started = await waitFor(async () => (await ui.transfers(tabId)).find((t) => !before.has(t.id)), 'the upload to start');
  const facts = await ended(ui, tabId, started.id);
  if (facts.state !== 'done') throw new Error(`upload ${facts.state}: ${JSON.stringify(facts.error)}`);
  if (facts.sha256 !== expected) throw new Error(`upload: SHA-256 ${facts.sha256} is not the file's ${expected}`);
  return facts.bytes / 1e6 / (facts.elapsedMs / 1000);
}

async function downloadOnce(ui: ConsolePage, tabId: string, name: string, expected: string, saveTo: string): Promise<number> {
  const before = new Set((await ui.transfers(tabId)).map((t) => t.id));
  const saved = ui.page.waitForEvent('download', { timeout: 300_000 });
  await menu(ui, tabId, 'menu-download');
  const dialog = ui.page.locator('[data-testid="download-dialog"]');
  await dialog.locator('[data-testid="download-path"]').fill(name);
  await dialog.locator('[data-testid="download-dialog-accept"]').click();
  const started = await waitFor(async () => (await ui.transfers(tabId)).find((t) => !before.has(t.id)), 'the download to start');
  const facts = await ended(ui, tabId, started.id);
  if (facts.state !== 'done') throw new Error(`download ${facts.state}: ${JSON.stringify(facts.error)}`);
  const download = await saved;
  await download.saveAs(saveTo);
  const got = sha256(readFileSync(saveTo));
  if (got !== expected) throw new Error(`download: the saved file's SHA-256 ${got} is not the original's ${expected}`);
  return facts.bytes / 1e6 / (facts.elapsedMs / 1000);
}

/**
 * Starts `transfer`, and once it moves bytes times ECHO_DURING_SAMPLES keystrokes in the same tab
 * (the bench hook `echo`: `cat`, one key at a time); the samples count only if the transfer was
 * still running after the last one.
 */
async function echoDuring(ui: ConsolePage, tabId: string, transfer: () => Promise<number>): Promise<number[]> {
  const before = new Set((await ui.transfers(tabId)).map((t) => t.id));
  const done = transfer();
  const moving = await waitFor(
    async () => (await ui.transfers(tabId)).find((t) => !before.has(t.id) && t.bytes > 0),
    'the transfer to move bytes',
  );
  const echo = await ui.page.evaluate(
    ([id, n]) =>
      (
        window as unknown as { __tetherTest: { echo(id: string, n: number): Promise<{ samples: number[]; error?: string }> } }
      ).__tetherTest.echo(id, n),
    [tabId, ECHO_DURING_SAMPLES] as const,
  );
  const still = (await ui.transfers(tabId)).find((t) => t.id === moving.id);
  await done;
  if (echo.error) throw new Error(`echo during a transfer: ${echo.error}`);
  if (still?.state !== 'running') throw new Error(`the transfer ended (${still?.state}) before the ${ECHO_DURING_SAMPLES} keystrokes did`);
  return echo.samples;
}

async function timed(body: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await body();
  return performance.now() - t0;
}

/**
 * `runs` uploads and downloads of one 50 MiB file in a fresh tab on `container`, each followed by
 * `docker cp` of the same file the same way; every copy is verified by SHA-256.
 */
export async function measureTransfers(ui: ConsolePage, agentId: string, container: TestContainer, runs: number): Promise<TransferFigures> {
  const work = mkdtempSync(join(tmpdir(), 'tether-transfer-bench-'));
  const figures: TransferFigures = {
    upload: [],
    download: [],
    dockerCpUpload: [],
    dockerCpDownload: [],
    echoDuringUpload: [],
    echoDuringDownload: [],
    fileBytes: TRANSFER_FILE_BYTES,
  };
  const tabId = await ui.openTab(agentId, container.name);
  try {
    const bytes = randomBytes(TRANSFER_FILE_BYTES);
    const expected = sha256(bytes);
    const file = join(work, 'bench.bin');
    writeFileSync(file, bytes);
    await ui.waitOpened(tabId);
    await ui.waitForPrompt(tabId);
    await ui.typeLine(tabId, `cd ${DIR} && echo in""-home`);
    await ui.waitForLine(tabId, 'in-home');
    for (let i = 0; i < runs; i++) {
      await docker('exec', container.id, 'rm', '-f', `${DIR}/bench.bin`, `${DIR}/cp.bin`);
      figures.upload.push(await uploadOnce(ui, tabId, file, expected));
      figures.download.push(await downloadOnce(ui, tabId, 'bench.bin', expected, join(work, `down-${i}.bin`)));
      rmSync(join(work, `down-${i}.bin`));
      const cpIn = await timed(() => run('docker', ['cp', file, `${container.id}:${DIR}/cp.bin`]));
      const [inside] = (await docker('exec', container.id, 'sha256sum', `${DIR}/cp.bin`)).split(/\s+/);
      if (inside !== expected) throw new Error(`docker cp in: SHA-256 ${inside} is not the file's ${expected}`);
      figures.dockerCpUpload.push(TRANSFER_FILE_BYTES / 1e6 / (cpIn / 1000));
      const out = join(work, `cp-${i}.bin`);
      const cpOut = await timed(() => run('docker', ['cp', `${container.id}:${DIR}/cp.bin`, out]));
      if (sha256(readFileSync(out)) !== expected) throw new Error('docker cp out: the copy differs from the file');
      rmSync(out);
      figures.dockerCpDownload.push(TRANSFER_FILE_BYTES / 1e6 / (cpOut / 1000));
    }
    await docker('exec', container.id, 'rm', '-f', `${DIR}/bench.bin`);
    figures.echoDuringUpload = await echoDuring(ui, tabId, () => uploadOnce(ui, tabId, file, expected));
    figures.echoDuringDownload = await echoDuring(ui, tabId, () =>
      downloadOnce(ui, tabId, 'bench.bin', expected, join(work, 'down-echo.bin')),
    );
    return figures;
  } finally {
    await ui.page.evaluate(
      (id) => (window as unknown as { __tetherTest: { closeTab(id: string): void } }).__tetherTest.closeTab(id),
      tabId,
    );
    rmSync(work, { recursive: true, force: true });
  }
}
