/**
 * The agent's notices reach the tab (`opened.notices`, protocol/README.md): on an agent that records
 * input, the console in Chromium shows "What you type in this tab is recorded…" before the prompt,
 * and the recording holds what was typed in the page.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { ConsolePage } from '../../harness/console-page.js';
import type { TestContainer } from '../../harness/docker.js';
import { startStack, type Stack } from '../../harness/stack.js';
import { waitFor } from '../../harness/wait.js';

let stack: Stack;
let ui: ConsolePage;
let container: TestContainer;
const recordDir = mkdtempSync(join(tmpdir(), 'tether-notices-casts-'));

before(async () => {
  stack = await startStack({ name: 'console-notices', agentArgs: ['--record-dir', recordDir, '--record-input'] });
  container = await stack.startContainer({ namePrefix: 'notices-plc' });
  ui = await stack.openConsole();
});

after(async () => {
  await stack?.close();
});

const test = (name: string, body: () => Promise<void>) => it(name, () => stack.guarded(name, body)());

test('an agent that records input: the tab says so as it opens, and what is typed in it is recorded', async () => {
  const tabId = await ui.openTargetByClick(stack.agent.agentId, container.name, 45_000);
  await ui.waitForPrompt(tabId);
  const notices = await ui.notices(tabId);
  assert.deepEqual(notices, ['What you type in this tab is recorded, passwords included: this agent records input (--record-input).']);
  await ui.typeLine(tabId, 'echo typed""-in-the-page');
  await ui.waitForLine(tabId, 'typed-in-the-page');
  const typed = await waitFor(
    () => {
      const text = readdirSync(recordDir)
        .map((name) => readFileSync(join(recordDir, name), 'utf8'))
        .join('');
      const inputs = text
        .split('\n')
        .filter((line) => line.includes('"i"'))
        .map((line) => (JSON.parse(line) as [number, string, string])[2])
        .join('');
      return inputs.includes('echo typed""-in-the-page\r') ? inputs : undefined;
    },
    'the typed line in the recording',
    120_000,
  );
  assert.ok(typed.length > 0);
});
