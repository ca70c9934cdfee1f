/**
 * Broadcast input (renderer/src/tabs/broadcast.ts) with the tab set in a bare Chromium page, on
 * in-memory sessions (FakeTerminalSession): keys typed in a member go to every member's session and
 * to no other, once each; each member is marked; a closed tab leaves the set.
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
const byTab = new Map();
window.tabsUnderTest = {
  open(target) {
    const tab = set.create({ agentId: 'a1', agentName: 'line 3', target });
    const connection = new FakeConnection();
    tab.follow(connection);
    connection.set({ kind: 'ready' });
    const session = sessions.last();
    session.opened();
    byTab.set(tab.id, session);
    return tab.id;
  },
  toggle: (id) => set.broadcast.toggle(set.get(id)),
  activate: (id) => set.activate(id),
  close: (id) => set.close(id),
  typed: (id) => byTab.get(id).typed.join(''),
  marked: () => [...document.querySelectorAll('[data-testid="tab"][data-broadcast="true"]')].map((e) => e.dataset.tabId),
  labels: () => [...document.querySelectorAll('.tab-panel')].filter((p) => !p.querySelector('[data-testid="tab-broadcast"]').hidden).map((p) => p.dataset.tabId),
};
`;

let browser: Browser;
let page: Page;

const call = <T>(name: string, ...args: unknown[]) =>
  page.evaluate(
    ([n, a]) => {
      const hooks = (window as unknown as { tabsUnderTest: Record<string, (...x: unknown[]) => unknown> }).tabsUnderTest;
      return hooks[n as string]!(...(a as unknown[]));
    },
    [name, args] as const,
  ) as Promise<T>;

before(async () => {
  ({ browser, page } = await openUnitPage(entry, fileURLToPath(new URL('.', import.meta.url)), {
    viewport: { width: 1000, height: 700 },
    bodyStyle: 'margin:0;height:100vh',
  }));
});

after(async () => {
  await browser?.close();
});

test('keys typed in a member reach every member once and no other tab; the members are marked; a closed tab leaves the set', async () => {
  const [a, b, c] = [await call<string>('open', 'plc-1'), await call<string>('open', 'plc-2'), await call<string>('open', 'plc-3')];
  await call('toggle', a);
  await call('toggle', c);
  assert.deepEqual(await call('marked'), [a, c]);
  assert.deepEqual((await call<string[]>('labels')).sort(), [a, c].sort());
  await call('activate', a);
  await page.keyboard.type('ls');
  await page.keyboard.press('Enter');
  assert.equal(await call('typed', a), 'ls\r');
  assert.equal(await call('typed', c), 'ls\r', 'the other member got the keys once');
  assert.equal(await call('typed', b), '', 'a tab outside the set got nothing');
  // typed in b (not a member): b only
  await call('activate', b);
  await page.keyboard.type('pwd');
  assert.equal(await call('typed', b), 'pwd');
  assert.equal(await call('typed', a), 'ls\r');
  // c closed: it leaves the set, and a's keys stay a's
  await call('close', c);
  assert.deepEqual(await call('marked'), [a]);
  await call('activate', a);
  await page.keyboard.type('x');
  assert.equal(await call('typed', a), 'ls\rx');
  assert.equal(await call('typed', b), 'pwd');
});
