/**
 * Offline pairing, end to end, with no signaling server: the console pairs with a LAN-only agent
 * from the token `tether-agent pair` printed (pasted into the dialog), lists it, and opens a
 * terminal over the agent's LAN endpoint; wrong, replayed and expired tokens are refused with the
 * agent's reason; a revoked console is refused; the agent keeps its fingerprint across a restart
 * and the paired console reconnects. Pairing forgives (issue 15): a token wrapped over lines pairs,
 * the dialog closes on success with the new agent selected, and a refusal is one plain sentence
 * (no repetition, no backticks) with the code and the agent's words as details.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { parsePairingToken, encodePairingToken, toBase64Url } from '@tether/protocol';
import type { Browser, Page } from 'playwright-core';
import type { AgentProcess } from '../../harness/agent-process.js';
import { launchChromium, newLoggedPage } from '../../harness/browser.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { auditEntries, freePort, openLanConsole, printPairingToken, revokeConsole, startLanAgent } from '../../harness/lan-pairing.js';
import { ensureRendererBuilt } from '../../harness/renderer-build.js';
import { serveDirectory, type StaticServer } from '../../harness/static-server.js';
import { waitFor } from '../../harness/wait.js';

const stateDir = mkdtempSync(join(tmpdir(), 'tether-pairing-lan-'));
const agentId = 'pairing-lan-agent';
const log: string[] = [];
let port: number;
let agent: AgentProcess;
let web: StaticServer;
let browser: Browser;
let page: Page;
let ui: ConsolePage;
let container: TestContainer;
let firstFingerprint: string;

const agentItem = () => ui.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"]`);

before(async () => {
  port = await freePort();
  const [dist] = await Promise.all([ensureRendererBuilt(), ensureDocker()]);
  web = await serveDirectory(dist);
  container = await startContainer({ namePrefix: 'tether-e2e-pairing' });
  agent = await startLanAgent({ stateDir, port, agentId, name: 'LAN press' });
  firstFingerprint = agent.fingerprint ?? '';
  browser = await launchChromium();
  page = await newLoggedPage(browser, log);
  ui = await openLanConsole(page, web.url);
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await container?.remove();
  await web?.close();
});

const test = (name: string, body: () => Promise<void>) =>
  it(name, async () => {
    try {
      await body();
    } catch (error) {
      console.error(`[${name}] agent log tail:\n${agent.logs().slice(-40).join('\n')}\n--- page log ---\n${log.slice(-40).join('\n')}`);
      throw error;
    }
  });

async function terminalWorks(): Promise<void> {
  const tab = await ui.openTargetByClick(agentId, container.name, 45_000);
  await ui.waitForPrompt(tab);
  await ui.typeLine(tab, 'echo lan-$((6*7))');
  await ui.waitForLine(tab, 'lan-42');
  await ui.typeLine(tab, 'echo uid=$(id -u)');
  const screen = await ui.waitForLine(tab, /^uid=\d+$/);
  assert.doesNotMatch(screen, /^uid=0$/m, 'the shell does not run as root');
  await ui.closeByClick(tab);
}

test('the page starts with no signaling server and says so', async () => {
  assert.match((await ui.page.locator('[data-testid="signaling-state"]').textContent()) ?? '', /No signaling server/);
  assert.deepEqual(await ui.pairedAgents(), []);
});

test('a wrong token (altered secret) is refused with PAIRING_INVALID', async () => {
  const token = parsePairingToken(printPairingToken(stateDir, port));
  assert.ok(token.ok);
  const wrong = encodePairingToken({ ...token.value, secret: toBase64Url(new Uint8Array(16).fill(7)) });
  const outcome = await ui.pairByPaste(wrong);
  assert.equal(outcome.kind, 'error');
  assert.equal(outcome.code, 'PAIRING_INVALID');
  assert.match(outcome.text, /not valid for this agent/);
  assertPlainRefusal(outcome);
});

/** One sentence or two that neither repeat each other nor show markdown; the code in the details. */
function assertPlainRefusal(outcome: { code: string; text: string; detail: string }): void {
  assert.doesNotMatch(outcome.text, /`/, 'no literal backticks');
  assert.doesNotMatch(outcome.text, new RegExp(outcome.code), 'the code is a detail, not the message');
  assert.match(outcome.detail, new RegExp(`^${outcome.code}: `));
  const words: string[] = outcome.text.toLowerCase().match(/[a-z]{5,}/g) ?? [];
  const repeated = words.filter((word, i) => words.indexOf(word) !== i && !['agent', 'token'].includes(word));
  assert.deepEqual(repeated, [], `no repeated wording in "${outcome.text}"`);
}

test('an expired token is refused with PAIRING_EXPIRED', async () => {
  const token = printPairingToken(stateDir, port, '--ttl', '1s');
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const outcome = await ui.pairByPaste(token);
  assert.equal(outcome.code, 'PAIRING_EXPIRED');
  assert.match(outcome.text, /expired/);
  assert.equal(outcome.text.match(/expired/g)?.length, 1, outcome.text);
  assertPlainRefusal(outcome);
});

test('a pasted token wrapped over lines pairs; the dialog closes, the agent is selected, listed as paired over the LAN, and a terminal works', async () => {
  const token = printPairingToken(stateDir, port);
  // As tmux or a serial console copies a long line: broken every 60 columns, indented, CRLF.
  const wrapped = `  ${token.match(/.{1,60}/g)!.join('\r\n  ')}\n`;
  assert.ok(wrapped.split('\n').length >= 4, 'the token spans several lines');
  const outcome = await ui.pairByPaste(wrapped);
  assert.equal(outcome.kind, 'ok', outcome.text);
  assert.equal(outcome.agentId, agentId, 'the new agent is selected');
  assert.equal(await ui.page.locator('[data-testid="pairing-dialog"]').count(), 0, 'the dialog closed on success');
  const paired = await ui.pairedAgents();
  assert.equal(paired.length, 1);
  assert.equal(paired[0]!.agentId, agentId);
  assert.equal(paired[0]!.fingerprint, firstFingerprint);
  await agentItem().waitFor();
  assert.equal(await agentItem().getAttribute('data-paired'), 'true');
  assert.equal(await agentItem().getAttribute('data-route'), 'lan');
  assert.match((await agentItem().locator('[data-testid="agent-route"]').textContent()) ?? '', /paired · LAN/);
  await terminalWorks();
  const enrolled = auditEntries(stateDir).find((e) => e.event === 'pairing.enrolled' || e.type === 'pairing.enrolled');
  assert.ok(enrolled, 'the agent audited the enrollment');
  await ui.screenshot('pairing-lan');

  const replay = await ui.pairByPaste(token);
  assert.equal(replay.code, 'PAIRING_SPENT', 'the same token a second time');
  assert.match(replay.text, /already used/);
  assertPlainRefusal(replay);
  await ui.closePairingDialog();
});

test('the paired agent survives a page reload', async () => {
  ui = await openLanConsole(page, web.url);
  assert.equal((await ui.pairedAgents())[0]?.agentId, agentId);
  await ui.connectAgent(agentId, 45_000);
});

test('the agent keeps its fingerprint across a restart, and the paired console reconnects', async () => {
  await agent.stop();
  await waitFor(async () => (await ui.agentState(agentId)).stage === 'failed', 'the console to notice the agent is gone', 30_000);
  agent = await startLanAgent({ stateDir, port, agentId, name: 'LAN press' });
  assert.equal(agent.fingerprint, firstFingerprint);
  await waitFor(async () => (await ui.agentState(agentId)).stage === 'ready', 'the console to reconnect on its own', 60_000);
  await terminalWorks();
});

test('a revoked console is refused with NOT_PAIRED, shown clearly', async () => {
  const consoleId = (await ui.pairedAgents())[0]!.consoleId;
  revokeConsole(stateDir, consoleId);
  // The open connection is ended by the agent, or the next one is refused: either way NOT_PAIRED.
  const connect = agentItem().locator('[data-testid="agent-connect"]');
  const disconnect = agentItem().locator('[data-testid="agent-disconnect"]');
  await waitFor(
    async () => {
      const state = await ui.agentState(agentId);
      if (state.code === 'NOT_PAIRED') return true;
      if (state.stage === 'ready' && (await disconnect.count())) {
        await disconnect.click();
        await connect.click();
      }
      return false;
    },
    'the console to show NOT_PAIRED',
    45_000,
  );
  const state = await ui.agentState(agentId);
  assert.match(state.text, /NOT_PAIRED/);
  assert.match(state.text, /revoked/);
  assert.doesNotMatch(state.text, /`/, 'no literal backticks');
  await ui.screenshot('pairing-revoked');
});

test('a token that names the paired agent with another certificate is asked about: the pin is kept unless replaced', async () => {
  // The same agent id on the same address, with another identity: a reinstalled host, or not.
  await agent.stop();
  const otherState = mkdtempSync(join(tmpdir(), 'tether-pairing-lan-other-'));
  agent = await startLanAgent({ stateDir: otherState, port, agentId, name: 'LAN press' });
  assert.notEqual(agent.fingerprint, firstFingerprint);
  const token = printPairingToken(otherState, port);
  const submit = async () => {
    const dialog = await ui.openPairingDialog();
    await dialog.locator('[data-testid="pairing-status"]').evaluate((node) => node.removeAttribute('data-kind'));
    await dialog.locator('[data-testid="pairing-token"]').fill(token);
    await dialog.locator('[data-testid="pairing-submit"]').click();
    const question = ui.page.locator('[data-testid="confirm-dialog"]');
    await question.waitFor();
    return question;
  };
  let question = await submit();
  assert.match(await question.innerText(), /LAN press was paired with another identity[\s\S]*may not come from it/);
  await question.locator('[data-testid="confirm-cancel"]').click();
  const kept = await ui.pairingOutcome();
  assert.equal(kept.kind, 'error');
  assert.match(kept.text, /kept/);
  assert.equal((await ui.pairedAgents())[0]!.fingerprint, firstFingerprint, 'the pin is unchanged');
  // Not spent: the same token replaces the pairing once the user says so.
  question = await submit();
  await question.locator('[data-testid="confirm-accept"]').click();
  const replaced = await ui.pairingOutcome();
  assert.equal(replaced.kind, 'ok', replaced.text);
  assert.equal((await ui.pairedAgents())[0]!.fingerprint, agent.fingerprint);
});
