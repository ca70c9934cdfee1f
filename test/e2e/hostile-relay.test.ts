/**
 * A hostile relay in the signaling path (issue 11), on the LAN path and on the cloud path, against
 * a console paired with the agent: real Chromium, the real agent, a real container. For each way
 * of writing the SDP's fingerprint lines (FINGERPRINT_TRICKS), the relay terminates DTLS on both
 * legs with certificates of its own, keeps the pinned sha-256 lines a weak check looks at, and,
 * should both legs come up, bridges the data channels, reads them and types a command of its own.
 * For every case: no frame reaches the relay in clear, no keystroke of the relay reaches the
 * shell, the console shows FINGERPRINT_MISMATCH, the agent refuses with it and audits the refusal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createJsonLogger, startSignalingServer } from '@tether/signaling';
import type { Browser, Page } from 'playwright-core';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import { launchChromium, newLoggedPage } from '../../harness/browser.js';
import { ConsolePage } from '../../harness/console-page.js';
import { startContainer, type TestContainer } from '../../harness/docker.js';
import {
  FINGERPRINT_TRICKS,
  startHostileRelay,
  startRenamingRelay,
  type FingerprintTrick,
  type HostileRelay,
} from '../../harness/hostile-relay.js';
import { auditEntries, freePort, openLanConsole, printPairingToken } from '../../harness/lan-pairing.js';
import { ensureRendererBuilt } from '../../harness/renderer-build.js';
import { serveDirectory, type StaticServer } from '../../harness/static-server.js';
import { waitFor } from '../../harness/wait.js';

const consoleToken = 'console-hostile-relay-token-0123456789';
const agentToken = 'agent-hostile-relay-token-0123456789';
const agentId = 'hostile-relay-agent';
const stateDir = mkdtempSync(join(tmpdir(), 'tether-hostile-relay-'));
const pageLog: string[] = [];
let web: StaticServer;
let signaling: Awaited<ReturnType<typeof startSignalingServer>>;
let agent: AgentProcess;
let container: TestContainer;
let browser: Browser;
let page: Page;
let relayPort: number;
/** The cloud relay's own port: the paired record's LAN endpoint (relayPort) must not lead to the signaling server. */
let cloudRelayPort: number;

before(async () => {
  web = await serveDirectory(await ensureRendererBuilt());
  signaling = await startSignalingServer({
    port: 0,
    host: '127.0.0.1',
    consoleTokens: [consoleToken],
    agentTokens: [agentToken],
    logger: createJsonLogger({ level: 'warn', write: () => undefined }),
  });
  container = await startContainer({ namePrefix: 'tether-hostile-relay' });
  agent = await startAgent({
    signalingUrl: signaling.url,
    token: agentToken,
    agentId,
    name: 'Relay target',
    lanListen: '127.0.0.1:0',
    stateDir,
  });
  relayPort = await freePort();
  cloudRelayPort = await freePort();
  browser = await launchChromium();
  page = await newLoggedPage(browser, pageLog);
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await container?.remove();
  await signaling?.close();
  await web?.close();
});

const agentItem = () => page.locator(`[data-testid="agent"][data-agent-id="${agentId}"]`);

/** Audit records of refusals with FINGERPRINT_MISMATCH since `since` (a count of records). */
const mismatchesAudited = (since: number) =>
  auditEntries(stateDir)
    .slice(since)
    .filter((e) => (e.event === 'offer.refused' || e.event === 'console.refused') && e.code === 'FINGERPRINT_MISMATCH');

/**
 * Connects the paired agent through `relay` and plays the attack to its end: should the console
 * come up through the relay, a terminal is opened and a secret typed, as a user would.
 */
async function attack(ui: ConsolePage, relay: HostileRelay): Promise<{ stage: string; code: string; text: string }> {
  const auditedBefore = auditEntries(stateDir).length;
  await agentItem().waitFor({ timeout: 30_000 });
  const connect = agentItem().locator('[data-testid="agent-connect"]');
  await waitFor(async () => (await connect.count()) > 0 || (await ui.agentState(agentId)).stage !== 'idle', 'the connect button', 30_000);
  if (await connect.count()) await connect.click();
  await waitFor(() => relay.offers > 0, 'the relay to take over an offer', 30_000);
  const state = await waitFor(
    async () => {
      const s = await ui.agentState(agentId);
      return s.stage === 'failed' || s.stage === 'ready' ? s : undefined;
    },
    'the connection through the relay to end or come up',
    45_000,
  );
  if (state.stage === 'ready') {
    // The pins did not hold: act as the user would, and let the assertions below say what leaked.
    const tab = await ui.openTargetByClick(agentId, container.name);
    await ui.typeLine(tab, 'echo SECRET-TYPED-BY-THE-USER');
    await waitFor(() => relay.injected.length > 0 || undefined, 'the relay to inject', 10_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
  }
  await waitFor(
    () => mismatchesAudited(auditedBefore).length > 0 || undefined,
    'the agent to audit a FINGERPRINT_MISMATCH refusal',
    40_000,
  ).catch(() => undefined);
  assert.deepEqual(
    relay.seen.map((f) => `${f.direction} ${f.label}: ${f.text.slice(0, 80)}`),
    [],
    'frames the relay read in clear',
  );
  assert.deepEqual(relay.injected, [], 'commands the relay typed into a shell');
  assert.ok(!relay.consoleLeg.includes('connected'), `the console's leg never connects to the relay: ${relay.consoleLeg.join(', ')}`);
  assert.ok(!relay.agentLeg.includes('connected'), `the agent's leg never connects to the relay: ${relay.agentLeg.join(', ')}`);
  assert.equal(state.stage, 'failed', `the console refuses: ${state.text}`);
  assert.equal(state.code, 'FINGERPRINT_MISMATCH', state.text);
  assert.match(state.text, /possible interception/);
  const audited = mismatchesAudited(auditedBefore);
  assert.ok(
    audited.length > 0,
    `the agent audits the refusal; its audit since: ${JSON.stringify(auditEntries(stateDir).slice(auditedBefore))}`,
  );
  assert.ok(
    !auditEntries(stateDir)
      .slice(auditedBefore)
      .some((e) => e.event === 'session.start'),
    'no session started',
  );
  return state;
}

async function withRelay(
  upstream: string,
  trick: FingerprintTrick,
  body: (relay: HostileRelay) => Promise<void>,
  port = relayPort,
): Promise<void> {
  const relay = await startHostileRelay(upstream, { trick, agentFingerprint: agent.fingerprint!, port });
  try {
    await body(relay);
  } catch (error) {
    console.error(
      `[${trick}] relay legs: console ${relay.consoleLeg.join(',')} / agent ${relay.agentLeg.join(',')}; agent said ${JSON.stringify(relay.agentDisconnects)}\n` +
        `agent log tail:\n${agent.logs().slice(-30).join('\n')}\n--- page log tail ---\n${pageLog.slice(-30).join('\n')}`,
    );
    throw error;
  } finally {
    await relay.close();
  }
}

describe('on the LAN path', () => {
  let ui: ConsolePage;

  it('the console pairs through the relay, which cannot forge the pairing (its events pass unchanged)', async () => {
    await withRelay(`http://127.0.0.1:${agent.lanPort}`, 'pinned-only', async () => {
      ui = await openLanConsole(page, web.url);
      const outcome = await ui.pairByPaste(printPairingToken(stateDir, relayPort));
      assert.equal(outcome.kind, 'ok', outcome.text);
      await ui.closePairingDialog();
    });
  });

  for (const trick of FINGERPRINT_TRICKS) {
    it(`a relay that writes ${trick}: refused on both sides, nothing read, nothing typed`, async () => {
      await withRelay(`http://127.0.0.1:${agent.lanPort}`, trick, async (relay) => {
        ui = await openLanConsole(page, web.url);
        await attack(ui, relay);
      });
    });
  }
});

describe('on the cloud path', () => {
  const openCloudConsole = async (): Promise<ConsolePage> => {
    const query = new URLSearchParams({ signal: `http://127.0.0.1:${cloudRelayPort}`, token: consoleToken, test: '1' });
    await page.goto(`${web.url}/index.html?${query.toString()}`);
    await page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 15_000 });
    return new ConsolePage(page);
  };

  for (const trick of FINGERPRINT_TRICKS) {
    it(`a relay in front of the signaling server that writes ${trick}: refused on both sides, nothing read, nothing typed`, async () => {
      await withRelay(
        signaling.url,
        trick,
        async (relay) => {
          const ui = await openCloudConsole();
          await waitFor(
            async () => (await agentItem().getAttribute('data-route')) === 'cloud' || undefined,
            'the paired agent listed through the cloud',
            30_000,
          );
          await attack(ui, relay);
        },
        cloudRelayPort,
      );
    });
  }
});

describe('agents the signaling server lists beside the paired one', () => {
  const extra: AgentProcess[] = [];
  const row = (id: string) => page.locator(`[data-testid="agent"][data-agent-id="${id}"]`);
  const dialog = () => page.locator('[data-testid="confirm-dialog"]');
  const offered = (agent: AgentProcess) => agent.logs().some((line) => line.includes('"msg":"offer received"'));

  after(async () => {
    for (const agent of extra) await agent.stop();
  });

  /** The console on the signaling server itself: the server is the one that lists agents of its own here. */
  const openDirectConsole = async (): Promise<ConsolePage> => {
    const query = new URLSearchParams({ signal: signaling.url, token: consoleToken, test: '1' });
    await page.goto(`${web.url}/index.html?${query.toString()}`);
    await page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 15_000 });
    return new ConsolePage(page);
  };

  it("one bearing the paired agent's name is flagged on its row, not connected on its own, and not connected on a click", async () => {
    // A real agent with an identity of its own, as a hostile server would run one: only the name is the paired one's.
    const impostor = await startAgent({ signalingUrl: signaling.url, token: agentToken, agentId: 'impostor-agent', name: 'RELAY target' });
    extra.push(impostor);
    const ui = await openDirectConsole();
    await waitFor(async () => (await ui.agentState(agentId)).stage === 'ready', 'the paired agent to connect on its own', 45_000);
    await row('impostor-agent').waitFor({ timeout: 30_000 });
    assert.equal(await row('impostor-agent').getAttribute('data-warning'), 'impostor');
    assert.match(await row('impostor-agent').locator('[data-testid="agent-warning"]').innerText(), /not the paired “Relay target”/);
    assert.equal(await agentItem().getAttribute('data-warning'), '', 'the paired agent bears no warning');
    assert.equal((await ui.agentState('impostor-agent')).stage, 'idle', 'not connected on its own');
    await row('impostor-agent').locator('[data-testid="agent-connect"]').click();
    await dialog().waitFor();
    assert.match(await dialog().innerText(), /Not the agent you paired with/);
    assert.equal(await dialog().locator('[data-testid="confirm-accept"]').innerText(), 'Pair with it…', 'no way to connect anyway');
    await ui.screenshot('impostor-agent');
    await dialog().locator('[data-testid="confirm-cancel"]').click();
    assert.equal((await ui.agentState('impostor-agent')).stage, 'idle');
    assert.ok(!offered(impostor), 'no offer reached the impostor');
  });

  it("one whose name is the paired agent's in look-alike letters of other scripts is flagged the same", async () => {
    // Cyrillic е and а, Greek Τ, and a zero-width space: drawn as "Relay target" in the list's font.
    const lookalike = await startAgent({
      signalingUrl: signaling.url,
      token: agentToken,
      agentId: 'lookalike-agent',
      name: 'R\u0435l\u0430y \u03a4\u200barget',
    });
    extra.push(lookalike);
    const ui = new ConsolePage(page);
    await row('lookalike-agent').waitFor({ timeout: 30_000 });
    assert.equal(await row('lookalike-agent').getAttribute('data-warning'), 'impostor');
    assert.match(await row('lookalike-agent').locator('[data-testid="agent-warning"]').innerText(), /not the paired “Relay target”/);
    assert.equal((await ui.agentState('lookalike-agent')).stage, 'idle', 'not connected on its own');
    await row('lookalike-agent').locator('[data-testid="agent-connect"]').click();
    await dialog().waitFor();
    assert.match(await dialog().innerText(), /Not the agent you paired with/);
    await dialog().locator('[data-testid="confirm-cancel"]').click();
    assert.ok(!offered(lookalike), 'no offer reached it');
    await lookalike.stop();
  });

  it('an unpaired agent of another name is connected only once the user says so, and asked once', async () => {
    const unpaired = await startAgent({
      signalingUrl: signaling.url,
      token: agentToken,
      agentId: 'unpaired-agent',
      name: 'Packaging line 2',
    });
    extra.push(unpaired);
    const ui = new ConsolePage(page);
    await row('unpaired-agent').waitFor({ timeout: 30_000 });
    assert.equal(await row('unpaired-agent').getAttribute('data-warning'), 'unpaired');
    assert.match(await row('unpaired-agent').locator('[data-testid="agent-route"]').innerText(), /not paired/);
    assert.equal((await ui.agentState('unpaired-agent')).stage, 'idle', 'not connected on its own');
    await row('unpaired-agent').locator('[data-testid="agent-connect"]').click();
    await dialog().waitFor();
    assert.match(await dialog().innerText(), /Connect without pairing\?[\s\S]*whoever runs that server could read and type/);
    await dialog().locator('[data-testid="confirm-cancel"]').click();
    assert.equal((await ui.agentState('unpaired-agent')).stage, 'idle', 'Cancel connects nothing');
    assert.ok(!offered(unpaired));
    await row('unpaired-agent').locator('[data-testid="agent-connect"]').click();
    await dialog().locator('[data-testid="confirm-accept"]').click();
    await waitFor(async () => (await ui.agentState('unpaired-agent')).stage === 'ready', 'the unpaired agent to connect', 45_000);
    // Asked once: Disconnect and Connect again connect without a question.
    await row('unpaired-agent').locator('[data-testid="agent-disconnect"]').click();
    await waitFor(async () => (await ui.agentState('unpaired-agent')).stage !== 'ready', 'disconnected');
    await row('unpaired-agent').locator('[data-testid="agent-connect"]').click();
    await waitFor(async () => (await ui.agentState('unpaired-agent')).stage === 'ready', 'connected again', 45_000);
    assert.equal(await dialog().count(), 0);
  });

  it('a workspace is no way around the question: in a new run, its tabs on an unpaired agent are not opened, and it says why', async () => {
    let ui = new ConsolePage(page);
    // A tab on the unpaired agent (agreed to above), kept in a workspace.
    const tabId = await ui.openTargetByClick('unpaired-agent', container.name, 45_000);
    await ui.waitForPrompt(tabId);
    await page.locator('[data-testid="workspaces-open"]').click();
    await page.locator('[data-testid="workspaces-menu"] [data-testid="workspace-save"]').click();
    const name = page.locator('[data-testid="workspace-name-dialog"]');
    await name.locator('[data-testid="prompt-value"]').fill('unpaired shift');
    await name.locator('[data-testid="prompt-accept"]').click();
    await ui.closeByClick(tabId);
    // A new run: the agreement was for the last one.
    ui = await openDirectConsole();
    await row('unpaired-agent').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="workspaces-open"]').click();
    await page.locator('[data-testid="workspaces-menu"] [data-testid="workspace-item"][data-name="unpaired shift"]').click();
    await dialog().waitFor();
    assert.match(await dialog().innerText(), /Workspace unpaired shift not opened[\s\S]*not paired with this console/);
    await dialog().locator('[data-testid="confirm-accept"]').click();
    assert.equal((await ui.tabs()).length, 0, 'no tab opened');
    assert.equal((await ui.agentState('unpaired-agent')).stage, 'idle', 'not connected');
  });
});

describe('a signaling server that renames agents', () => {
  const secondId = 'second-paired-agent';
  const secondState = mkdtempSync(join(tmpdir(), 'tether-hostile-relay-second-'));
  let second: AgentProcess | undefined;
  const row = (id: string) => page.locator(`[data-testid="agent"][data-agent-id="${id}"]`);
  const shownName = (id: string) => row(id).locator('.agent-name').innerText();
  const listedAs = (id: string) => row(id).locator('[data-testid="agent-listed-as"]').innerText();
  const startSecond = (name: string) =>
    startAgent({
      signalingUrl: signaling.url,
      token: agentToken,
      agentId: secondId,
      name,
      lanListen: '127.0.0.1:0',
      stateDir: secondState,
    });

  after(async () => {
    await second?.stop();
  });

  it('cannot swap the names of two paired agents: each row keeps the name its agent proved, and says what the server lists', async () => {
    second = await startSecond('Boiler house');
    let ui = await openLanConsole(page, web.url);
    const outcome = await ui.pairByPaste(printPairingToken(secondState, second.lanPort!));
    assert.equal(outcome.kind, 'ok', outcome.text);
    await ui.closePairingDialog();
    // The server gives each paired agent the other's name: a click on "Boiler house" would open "Relay target".
    const relay = await startRenamingRelay(signaling.url, { [agentId]: 'Boiler house', [secondId]: 'Relay target' });
    try {
      const query = new URLSearchParams({ signal: relay.url, token: consoleToken, test: '1' });
      await page.goto(`${web.url}/index.html?${query.toString()}`);
      await page.waitForFunction(() => '__tetherTest' in window, undefined, { timeout: 15_000 });
      ui = new ConsolePage(page);
      for (const id of [agentId, secondId])
        await waitFor(async () => (await ui.agentState(id)).stage === 'ready', `paired agent ${id} to connect through the relay`, 45_000);
      assert.ok(relay.rewritten > 0, 'the relay renamed agents in its presence');
      assert.equal(await shownName(agentId), 'Relay target');
      assert.equal(await shownName(secondId), 'Boiler house');
      assert.match(await listedAs(agentId), /lists it as “Boiler house”/);
      assert.match(await listedAs(secondId), /lists it as “Relay target”/);
      assert.equal(await row(agentId).getAttribute('data-warning'), '');
      assert.equal(await row(secondId).getAttribute('data-warning'), '');
      await ui.screenshot('renamed-by-server');
      // A tab opened from the row that reads "Boiler house" is a shell of the Boiler house agent, and says so.
      const tabId = await ui.openTargetByClick(secondId, container.name, 45_000);
      await ui.waitForPrompt(tabId);
      const tabTitle = (await ui.tabButton(tabId).getAttribute('title')) ?? '';
      assert.match(tabTitle, / on Boiler house\n/);
      assert.ok(!tabTitle.includes('Relay target'), tabTitle);
      await ui.closeByClick(tabId);

      // Its operator renames it (`--name`): said in its hello over the pinned channel, shown and kept.
      await second.stop();
      second = await startSecond('Boiler house east');
      await waitFor(async () => (await shownName(secondId)) === 'Boiler house east' || undefined, 'the new name the agent gave', 60_000);
      assert.match(await listedAs(secondId), /lists it as “Relay target”/);
      const stored = await waitFor(
        async () => {
          const names = await storedPairedNames();
          return names[secondId] === 'Boiler house east' ? names : undefined;
        },
        'the new name kept with the pairing',
        10_000,
      );
      assert.equal(stored[agentId], 'Relay target');
    } finally {
      await relay.close();
    }
  });
});

/** The paired agents' names as the console's trust store keeps them (IndexedDB `tether-trust`). */
function storedPairedNames(): Promise<Record<string, string>> {
  return page.evaluate(
    () =>
      new Promise<Record<string, string>>((resolve, reject) => {
        const open = indexedDB.open('tether-trust');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('kv').objectStore('kv').get('paired-agents');
          get.onerror = () => reject(get.error);
          get.onsuccess = () => {
            const records = (get.result ?? []) as { agentId: string; name: string }[];
            open.result.close();
            resolve(Object.fromEntries(records.map((r) => [r.agentId, r.name])));
          };
        };
      }),
  );
}
