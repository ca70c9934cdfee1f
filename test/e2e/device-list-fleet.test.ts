/**
 * The console with a fleet (issue 20): the real signaling server on port 0, 10,000 simulated agents
 * (harness/agent-swarm.ts, a child process) and the console in headless Chromium. The device
 * list counts every agent, keeps its DOM bounded (virtualized), finds any agent with its filter,
 * follows a mass departure by its diffs, and holds the row under a resting pointer in place while
 * agents join above it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createJsonLogger, startSignalingServer, type SignalingServer } from '@tether/signaling';
import { startAgentSwarm, type AgentSwarm } from '../../harness/agent-swarm.js';
import { launchChromium, newLoggedPage } from '../../harness/browser.js';
import { ensureRendererBuilt } from '../../harness/renderer-build.js';
import { serveDirectory, type StaticServer } from '../../harness/static-server.js';

const CONSOLE_TOKEN = 'fleet-console-token-0123456789';
const AGENT_TOKEN = 'fleet-agent-token-0123456789';
const FLEET = 10_000;
const DEPARTING = 1000;
/** Far more than fit on the screen, far fewer than the fleet. */
const MAX_ROWS_IN_DOM = 100;

let signaling: SignalingServer;
let swarm: AgentSwarm;
let site: StaticServer;
let browser: Browser;
let page: Page;
const pageLog: string[] = [];
/** the node's warnings and errors but its refusals (thousands in a storm, by design): connections it ended */
const serverLog: string[] = [];

const count = async (state: string) =>
  Number(await page.locator(`[data-testid="device-counts"] [data-state="${state}"]`).getAttribute('data-count'));
const rows = () => page.locator('[data-testid="agent"]');

before(async () => {
  signaling = await startSignalingServer({
    host: '127.0.0.1',
    port: 0,
    consoleTokens: [CONSOLE_TOKEN],
    agentTokens: [AGENT_TOKEN],
    maxConnectionsPerAddress: 0,
    logger: createJsonLogger({
      level: 'warn',
      write: (line) => void (!/refus/i.test(line) && serverLog.length < 2000 && serverLog.push(line)),
    }),
  });
  site = await serveDirectory(await ensureRendererBuilt());
  browser = await launchChromium();
  page = await newLoggedPage(browser, pageLog);
  await page.goto(`${site.url}/index.html?signal=${encodeURIComponent(signaling.url)}&token=${encodeURIComponent(CONSOLE_TOKEN)}&test=1`);
  // Connected before the storm: a console still connecting when it begins may be told to come back
  // later (a 503 from a lagging node, which Chromium logs as an error, and the test counts those).
  await page.locator('[data-testid="signaling-state"][data-state="connected"]').waitFor();
  await page.locator('[data-testid="device-counts"] [data-state="all"][data-count="0"]').waitFor();
  swarm = startAgentSwarm();
  await swarm.connect({ urls: [signaling.url], token: AGENT_TOKEN, prefix: 'fleet-', count: FLEET });
});

after(async () => {
  await browser?.close();
  await swarm?.stop();
  await site?.close();
  await signaling?.close();
});

test(`the device list counts ${FLEET.toLocaleString('en')} agents and keeps only the rows in view in the DOM`, async () => {
  await page.locator(`[data-testid="device-counts"] [data-state="online"][data-count="${FLEET}"]`).waitFor({ timeout: 120_000 });
  assert.equal(await count('all'), FLEET);
  assert.equal(await count('offline'), 0);
  const inDom = await rows().count();
  assert.ok(inDom > 0 && inDom <= MAX_ROWS_IN_DOM, `${inDom} agent rows in the DOM`);
  // Scrolled to the end, the last agents are there, and still only a window of rows.
  await page.locator('[data-testid="device-list"]').evaluate((element) => element.scrollTo({ top: element.scrollHeight }));
  await page.locator('[data-testid="agent"][data-agent-id="fleet-9999"]').waitFor();
  assert.ok((await rows().count()) <= MAX_ROWS_IN_DOM);
});

test('the filter finds any agent by name or id, and by state', async () => {
  for (const n of [0, 4321, 7777, 9998]) {
    await page.locator('[data-testid="device-filter"]').fill(`fleet-${n}`);
    const shown = page.locator(`[data-testid="agent"][data-agent-id="fleet-${n}"]`);
    await shown.waitFor();
    assert.equal(await count('shown'), 1, `only fleet-${n} matches`);
    assert.equal(await rows().count(), 1);
  }
  await page.locator('[data-testid="device-filter"]').fill('swarm fleet-12');
  await page.locator('[data-testid="agent"][data-agent-id="fleet-12"]').waitFor();
  await page.locator('[data-testid="device-filter"]').fill('');
  await page.locator('[data-testid="device-state-filter"]').selectOption('offline');
  await page.locator('[data-testid="device-counts"] [data-state="shown"][data-count="0"]').waitFor();
  assert.equal(await rows().count(), 0);
  await page.locator('[data-testid="device-state-filter"]').selectOption('all');
});

test(`${DEPARTING} agents leaving at once are applied as diffs: the counts follow, the DOM stays bounded`, async () => {
  await swarm.disconnect(DEPARTING);
  await page.locator(`[data-testid="device-counts"] [data-state="online"][data-count="${FLEET - DEPARTING}"]`).waitFor({ timeout: 60_000 });
  // Agents the console saw are remembered, offline.
  assert.equal(await count('offline'), DEPARTING);
  assert.equal(await count('all'), FLEET);
  assert.ok((await rows().count()) <= MAX_ROWS_IN_DOM);
  // Chromium logs a refused WebSocket handshake as an error: a node that lags refuses with 503 and
  // the console tries again later, by design. Twice in clean-clone CI runs (three test files at a
  // time) the console was refused so during this file, once already connected (why it reconnected
  // was not found: not reproduced alone). Any other error fails; the console must end connected.
  const shed = /WebSocket connection to '.*' failed: Error during WebSocket handshake: Unexpected response code: 503/;
  assert.deepEqual(
    pageLog.filter((line) => line.startsWith('[page error]') && !shed.test(line)),
    [],
  );
  // Why a connected console reconnected, when it did (the console logs each disconnect's reason).
  const disconnects = pageLog.filter((line) => line.includes('[signaling] disconnected'));
  if (disconnects.length > 0) {
    console.log(
      `device-list-fleet: the console reconnected: ${disconnects.join(' | ')}\nthe node's warnings:\n${serverLog.slice(-20).join('\n')}`,
    );
  }
  await page.locator('[data-testid="signaling-state"][data-state="connected"]').waitFor();
});

test('agents joining above the row under a resting pointer leave it in place; they are listed once the pointer leaves', async () => {
  const LATE = 20;
  const scroller = page.locator('[data-testid="device-list"]');
  await scroller.evaluate((element) => element.scrollTo({ top: 0 }));
  const box = await scroller.boundingBox();
  assert.ok(box);
  // The first row's name, where an engineer would aim.
  const point = { x: box.x + 40, y: box.y + 10 };
  const agentUnder = () =>
    page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest<HTMLElement>('[data-testid="agent"]')?.dataset.agentId, point);
  await page.mouse.move(point.x, point.y);
  const aimed = await agentUnder();
  assert.ok(aimed, 'a row is under the pointer');
  const online = await count('online');
  // Named "swarm a-late-<n>": sorted above every "swarm fleet-…".
  await swarm.connect({ urls: [signaling.url], token: AGENT_TOKEN, prefix: 'a-late-', count: LATE });
  await page.locator(`[data-testid="device-counts"] [data-state="online"][data-count="${online + LATE}"]`).waitFor({ timeout: 60_000 });
  await page.locator(`[data-testid="device-held"]`).waitFor();
  assert.equal(await agentUnder(), aimed, 'the row under the pointer stayed');
  assert.equal(await page.locator('[data-testid="agent"][data-agent-id^="a-late-"]').count(), 0, 'the new agents wait');
  assert.match(await page.locator('[data-testid="device-held"]').innerText(), new RegExp(`^${LATE} changes wait`));
  await page.mouse.move(1, 1);
  await page.locator('[data-testid="agent"][data-agent-id^="a-late-"]').first().waitFor();
  assert.match((await agentUnder()) ?? '', /^a-late-/, 'listed first once the pointer left');
  assert.equal(await page.locator('[data-testid="device-held"]').isVisible(), false);
});
