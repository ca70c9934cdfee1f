/**
 * A man in the middle on the signaling path that swaps the DTLS fingerprints in the SDP: the
 * console paired through it honestly (it cannot forge the pairing proof), but then no data channel
 * opens: the agent refuses the forged offer (and audits it), the console refuses the forged answer,
 * and both say FINGERPRINT_MISMATCH.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { AgentProcess } from '../../harness/agent-process.js';
import { launchChromium, newLoggedPage } from '../../harness/browser.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { startFingerprintRelay, type FingerprintRelay } from '../../harness/fingerprint-relay.js';
import { auditEntries, freePort, openLanConsole, printPairingToken, startLanAgent } from '../../harness/lan-pairing.js';
import { ensureRendererBuilt } from '../../harness/renderer-build.js';
import { serveDirectory, type StaticServer } from '../../harness/static-server.js';
import { waitFor } from '../../harness/wait.js';

const stateDir = mkdtempSync(join(tmpdir(), 'tether-pairing-mitm-'));
const agentId = 'pairing-mitm-agent';
const log: string[] = [];
let agent: AgentProcess;
let relay: FingerprintRelay;
let web: StaticServer;
let browser: Browser;
let ui: ConsolePage;

before(async () => {
  const port = await freePort();
  web = await serveDirectory(await ensureRendererBuilt());
  agent = await startLanAgent({ stateDir, port, agentId, name: 'MITM press' });
  relay = await startFingerprintRelay(`http://127.0.0.1:${port}`, 'offer-and-answer');
  browser = await launchChromium();
  ui = await openLanConsole(await newLoggedPage(browser, log), web.url);
});

after(async () => {
  await browser?.close();
  await relay?.close();
  await agent?.stop();
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

const noDataChannel = () => !agent.logs().some((line) => line.includes('"msg":"console hello"'));

test('swapped fingerprints in offer and answer: the agent refuses, audits it, and the console shows FINGERPRINT_MISMATCH', async () => {
  const outcome = await ui.pairByPaste(printPairingToken(stateDir, relay.port));
  assert.equal(outcome.kind, 'ok', outcome.text);
  await ui.closePairingDialog();
  const state = await waitFor(
    async () => {
      const s = await ui.agentState(agentId);
      return s.stage === 'failed' ? s : undefined;
    },
    'the connection to fail',
    30_000,
  );
  assert.equal(state.code, 'FINGERPRINT_MISMATCH');
  assert.match(state.text, /fingerprint mismatch: this is not the agent you paired with — possible interception/);
  assert.ok(relay.rewritten >= 1);
  const refused = auditEntries(stateDir).find((e) => e.event === 'offer.refused');
  assert.equal(refused?.code, 'FINGERPRINT_MISMATCH', JSON.stringify(auditEntries(stateDir)));
  assert.ok(noDataChannel(), 'no data channel opened');
  await ui.screenshot('pairing-mitm');
});

test('a swapped fingerprint in the answer only: the console refuses the answer and tells the agent why', async () => {
  relay.mode = 'answer';
  const before = relay.rewritten;
  await ui.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"] [data-testid="agent-connect"]`).click();
  await waitFor(() => relay.rewritten > before, 'the relay to rewrite an answer', 30_000);
  const state = await waitFor(
    async () => {
      const s = await ui.agentState(agentId);
      return s.stage === 'failed' ? s : undefined;
    },
    'the connection to fail',
    30_000,
  );
  assert.equal(state.code, 'FINGERPRINT_MISMATCH');
  assert.match(state.text, /not the agent you paired with/);
  await waitFor(
    () => agent.logs().some((l) => l.includes('"msg":"console disconnected"') && l.includes('fingerprint mismatch')),
    "the agent to log the console's mismatch",
    10_000,
  );
  assert.ok(noDataChannel(), 'no data channel opened');
});
