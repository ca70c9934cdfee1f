/**
 * Which tab has the keyboard (renderer/src/tabs/tab-set.ts): the tabs and their terminals in a bare
 * Chromium page, on in-memory sessions (FakeTerminalSession): no Docker, no agent, no server. A new
 * tab takes the keyboard, switching tabs moves it, and closing the active tab hands it to the next.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { after, before, test } from 'node:test';
import { openUnitPage } from '../../../harness/renderer-unit-page.js';

const entry = `
import { TabSet } from '../../../renderer/src/tabs/tab-set';
import { fakeSessions } from './support/fake-terminal-session';
import { FakeConnection } from './support/fake-tab-panel';
const sessions = fakeSessions();
const viewOptions = () => ({ theme: 'dark', fontSize: 14, confirmPaste: async () => true, onSelection() {}, openLink() {} });
const set = new TabSet(viewOptions, sessions.factory);
document.body.append(set.strip.element, set.panels);
window.tabsUnderTest = {
  open(target) {
    const tab = set.create({ agentId: 'a1', agentName: 'line 3', target });
    const connection = new FakeConnection();
    tab.follow(connection);
    connection.set({ kind: 'ready' });
    sessions.last().opened();
    return tab.id;
  },
  activate: (id) => set.activate(id),
  close: (id) => set.close(id),
  /** the tab whose panel holds the focused element, if any */
  focused: () => document.activeElement?.closest('.tab-panel')?.dataset.tabId ?? null,
};
`;

let browser: Browser;
let page: Page;

type Hooks = { open(target: string): string; activate(id: string): void; close(id: string): void; focused(): string | null };
const call = <K extends keyof Hooks>(name: K, ...args: Parameters<Hooks[K]>) =>
  page.evaluate(
    ([n, a]) => {
      const hooks = (window as unknown as { tabsUnderTest: Record<string, (...x: unknown[]) => unknown> }).tabsUnderTest;
      return hooks[n as string]!(...(a as unknown[]));
    },
    [name, args] as const,
  ) as Promise<ReturnType<Hooks[K]>>;

before(async () => {
  ({ browser, page } = await openUnitPage(entry, fileURLToPath(new URL('.', import.meta.url)), {
    viewport: { width: 1000, height: 700 },
    bodyStyle: 'margin:0;height:100vh',
  }));
});

after(async () => {
  await browser?.close();
});

test('a new tab takes the keyboard, switching tabs moves it, and closing the active tab hands it to the next', async () => {
  const first = await call('open', 'plc-1');
  assert.equal(await call('focused'), first, 'a new tab takes the keyboard');
  const second = await call('open', 'plc-2');
  assert.equal(await call('focused'), second);
  await call('activate', first);
  assert.equal(await call('focused'), first, 'switching tabs moves the keyboard');
  await call('close', first);
  assert.equal(await call('focused'), second, 'the next tab takes the keyboard when the active one closes');
});
