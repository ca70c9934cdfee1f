/**
 * Output integrity end to end: 10 MiB of base64 arrives byte for byte, and multi-byte UTF-8 split
 * across frame boundaries renders without replacement characters.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;

before(async () => {
  stack = await startStack({ name: 'integrity' });
  container = await stack.startContainer();
  ui = await stack.openConsole();
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

async function openShell(): Promise<string> {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name);
  await ui.waitForPrompt(tabId);
  return tabId;
}

test('10 MiB of base64 output arrives with the SHA-256 the container computed', async () => {
  const tabId = await openShell();
  await ui.typeLine(tabId, 'head -c 7864320 /dev/urandom | base64 > /tmp/blob; sha256sum /tmp/blob; wc -c < /tmp/blob');
  const screen = await ui.waitForLine(tabId, /^[0-9a-f]{64} {2}\/tmp\/blob$/, 60_000);
  const lines = screen.split('\n').map((l) => l.trim());
  const hashLine = lines.findIndex((l) => /^[0-9a-f]{64} {2}\/tmp\/blob$/.test(l));
  const expectedSha = lines[hashLine]!.slice(0, 64);
  const sizeLine = await waitFor(
    async () => (await ui.lines(tabId)).map((l) => l.trim()).find((l) => /^\d{7,9}$/.test(l)),
    'the file size',
  );
  const expectedLength = Number(sizeLine);
  assert.ok(expectedLength > 10_000_000, `base64 of 7.5 MiB is over 10 MB (wc -c said ${expectedLength})`);

  await ui.capture(tabId, true);
  // The markers are built by the shell, so the echoed command line never contains them.
  await ui.typeLine(tabId, 'echo BLOB""BEGIN; cat /tmp/blob; echo BLOB""END');
  await ui.waitForLine(tabId, 'BLOBEND', 240_000);
  await ui.capture(tabId, false);

  const digest = await ui.capturedSha256NoCR(tabId, 'BLOBBEGIN', 'BLOBEND');
  assert.equal(digest.found, true, 'both markers are in the captured output');
  assert.equal(digest.length, expectedLength, 'as many bytes between the markers as the file holds');
  assert.equal(digest.sha256, expectedSha, "the bytes between the markers hash to the file's SHA-256");
  const received = await ui.received(tabId);
  assert.ok(received >= expectedLength, `received ${received} bytes in all`);
  await waitFor(async () => (await ui.acked(tabId)) === (await ui.received(tabId)), 'every received byte to be acknowledged');
});

const PATTERN = '€€€日本語€日本語€';
const LINES = 20_000;
/** PATTERN as printf octal escapes, so that the typed command line stays ASCII. */
const PATTERN_OCTAL = [...Buffer.from(PATTERN, 'utf8')].map((b) => `\\${b.toString(8)}`).join('');

test('multi-byte UTF-8 split across frames renders without U+FFFD', async () => {
  const tabId = await openShell();
  // Typed UTF-8 goes through the tty line discipline (bash's readline in the C locale of the test
  // image would read the bytes as Meta keys): `head` reads one cooked line and prints it back.
  await ui.typeLine(tabId, 'head -n 1');
  await ui.typeLine(tabId, '€日本語');
  await waitFor(
    async () => (await ui.lines(tabId)).filter((l) => l.trim() === '€日本語').length >= 2,
    'the typed €日本語 echoed and printed back',
  );

  await ui.capture(tabId, true);
  await ui.typeLine(tabId, `i=0; while [ $i -lt ${LINES} ]; do printf '%05d ${PATTERN_OCTAL}\\n' $i; i=$((i+1)); done; echo UTF""DONE`);
  const screen = await ui.waitForLine(tabId, 'UTFDONE', 120_000);
  await ui.capture(tabId, false);

  assert.equal(screen.includes('\uFFFD'), false, 'no replacement character in the terminal buffer');
  const numbered = screen
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d{5} /.test(l));
  assert.ok(numbered.length >= 1000, `the buffer holds many output lines (${numbered.length})`);
  for (const line of numbered) assert.equal(line.slice(6), PATTERN, `line ${JSON.stringify(line)}`);
  assert.equal(numbered[numbered.length - 1], `${String(LINES - 1).padStart(5, '0')} ${PATTERN}`);

  const raw = Buffer.from(await ui.captured(tabId), 'base64');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  const outputLines = text
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => /^\d{5} /.test(l));
  assert.equal(outputLines.length, LINES, 'every line arrived once');
  outputLines.forEach((line, i) => assert.equal(line, `${String(i).padStart(5, '0')} ${PATTERN}`));
});
