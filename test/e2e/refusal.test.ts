/**
 * What the agent refuses, end to end: malformed and oversized frames get an `error` reply and the
 * session goes on; unexposed and unknown containers are refused with a clear error in the tab.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let exposed: TestContainer;
let hidden: TestContainer;

before(async () => {
  stack = await startStack({ name: 'refusal' });
  [exposed, hidden] = await Promise.all([
    stack.startContainer(),
    // running, but without the tether.vplc label the agent's default rule asks for
    stack.startContainer({ labels: {}, namePrefix: 'tether-hidden' }),
  ]);
  ui = await stack.openConsole();
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

async function waitForError(tabId: string, code: string, after = 0): Promise<{ code: string; message: string }> {
  return waitFor(async () => (await ui.errors(tabId)).slice(after).find((e) => e.code === code), `an error ${code} in tab ${tabId}`);
}

async function assertStillAlive(tabId: string, word: string): Promise<void> {
  await ui.typeLine(tabId, `echo ${word.slice(0, 3)}""${word.slice(3)}`);
  await ui.waitForLine(tabId, word);
  const tab = await ui.tab(tabId);
  assert.equal(tab.state, 'open', 'the session goes on');
}

test('a frame that is not JSON gets BAD_MESSAGE and the session goes on', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, exposed.name);
  await ui.waitForPrompt(tabId);
  assert.deepEqual(await ui.sendRaw(tabId, '{not json'), { ok: true });
  const error = await waitForError(tabId, 'BAD_MESSAGE');
  assert.ok(error.message.length > 0, 'the error says what was wrong');
  await assertStillAlive(tabId, 'still-alive-1');
});

test('a resize to 0 columns gets BAD_MESSAGE and the session goes on', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, exposed.name);
  await ui.waitForPrompt(tabId);
  const seen = (await ui.errors(tabId)).length;
  assert.deepEqual(await ui.sendRaw(tabId, '{"type":"resize","cols":0,"rows":5}'), { ok: true });
  await waitForError(tabId, 'BAD_MESSAGE', seen);
  await assertStillAlive(tabId, 'still-alive-2');
  // the bad resize did not reach the PTY: the size is still the terminal's own
  const size = await ui.size(tabId);
  await ui.typeLine(tabId, 'stty size');
  await ui.waitForLine(tabId, `${size.rows} ${size.cols}`);
});

test('a binary frame over the frame limit gets MESSAGE_TOO_LARGE and the session goes on', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, exposed.name);
  await ui.waitForPrompt(tabId);
  const sent = await ui.sendRaw(tabId, 70_000);
  assert.deepEqual(
    sent,
    { ok: true },
    "Chromium sends a 70000-byte message only if the agent's SDP advertises a=max-message-size above 65536",
  );
  await waitForError(tabId, 'MESSAGE_TOO_LARGE');
  await assertStillAlive(tabId, 'still-alive-3');
});

test('a running container without the tether.vplc label is refused as unknown (UNKNOWN_TARGET): the console learns nothing of it', async () => {
  await ui.connectAgent(stack.agent.agentId);
  const listed = await stack.page.locator(`[data-testid="target"][data-target-name="${hidden.name}"]`).count();
  assert.equal(listed, 0, 'the agent does not list the unexposed container');
  const tabId = await ui.openTab(stack.agent.agentId, hidden.name);
  const error = await waitForError(tabId, 'UNKNOWN_TARGET');
  assert.ok(error.message.length > 0);
  const tab = await waitFor(async () => {
    const t = await ui.tab(tabId);
    return t.state === 'failed' ? t : undefined;
  }, 'the tab to show the refusal');
  assert.equal(tab.sessionId, undefined, 'no session was opened');
  const screen = await ui.screen(tabId);
  assert.match(screen, /\[error UNKNOWN_TARGET\]/, 'the refusal is shown in the terminal');
});

test('an unknown container name is refused with UNKNOWN_TARGET', async () => {
  const tabId = await ui.openTab(stack.agent.agentId, 'no-such-container-4d1f');
  const error = await waitForError(tabId, 'UNKNOWN_TARGET');
  assert.ok(error.message.length > 0);
  await waitFor(async () => (await ui.tab(tabId)).state === 'failed', 'the tab to show the refusal');
  assert.match(await ui.screen(tabId), /\[error UNKNOWN_TARGET\]/, 'the refusal is shown in the terminal');
});
