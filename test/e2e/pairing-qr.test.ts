/**
 * Pairing by QR code: the token `tether-agent pair` printed, shown to Chromium's fake camera as a
 * video of its QR code; the console's "Scan QR code" reads it, pairs with no signaling server,
 * and a terminal opens over the LAN.
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
import { ensureDocker, startContainer, type TestContainer } from '../../harness/docker.js';
import { fakeCameraArgs, writeQrVideo } from '../../harness/fake-camera.js';
import { freePort, openLanConsole, printPairingToken, startLanAgent } from '../../harness/lan-pairing.js';
import { ensureRendererBuilt } from '../../harness/renderer-build.js';
import { serveDirectory, type StaticServer } from '../../harness/static-server.js';
import { waitFor } from '../../harness/wait.js';

const stateDir = mkdtempSync(join(tmpdir(), 'tether-pairing-qr-'));
const agentId = 'pairing-qr-agent';
const log: string[] = [];
let agent: AgentProcess;
let web: StaticServer;
let browser: Browser;
let ui: ConsolePage;
let container: TestContainer;
let token: string;

before(async () => {
  const port = await freePort();
  const [dist] = await Promise.all([ensureRendererBuilt(), ensureDocker()]);
  web = await serveDirectory(dist);
  container = await startContainer({ namePrefix: 'tether-e2e-qr' });
  agent = await startLanAgent({ stateDir, port, agentId, name: 'QR press' });
  token = printPairingToken(stateDir, port);
  const video = join(stateDir, 'qr.y4m');
  writeQrVideo(video, token);
  browser = await launchChromium(fakeCameraArgs(video));
  ui = await openLanConsole(await newLoggedPage(browser, log), web.url);
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await container?.remove();
  await web?.close();
});

it('Scan QR code reads the printed token from the camera, pairs, and a terminal works over the LAN', async () => {
  try {
    const dialog = await ui.openPairingDialog();
    await dialog.locator('[data-testid="pairing-scan"]').click();
    const outcome = await ui.pairingOutcome(30_000);
    assert.equal(outcome.kind, 'ok', outcome.text);
    assert.equal(outcome.agentId, agentId, 'the dialog closed on success and the new agent is selected');
    assert.equal(await ui.page.locator('[data-testid="pairing-camera"]').count(), 0, 'the camera went with the dialog');
    assert.equal((await ui.pairedAgents())[0]?.fingerprint, agent.fingerprint);
    const tab = await ui.openTargetByClick(agentId, container.name, 45_000);
    await ui.waitForPrompt(tab);
    await ui.typeLine(tab, 'echo qr-$((6*7))');
    await ui.waitForLine(tab, 'qr-42');
    await waitFor(async () => (await ui.tab(tab)).state === 'open', 'the tab to stay open');
  } catch (error) {
    console.error(`agent log tail:\n${agent.logs().slice(-40).join('\n')}\n--- page log ---\n${log.slice(-40).join('\n')}`);
    throw error;
  }
});
