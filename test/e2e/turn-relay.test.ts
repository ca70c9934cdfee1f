/**
 * NAT traversal through a real coturn: the console and the agent each sit behind their own NAT in
 * separate network namespaces, with no path between them; the signaling server and coturn are in a
 * "cloud" namespace both reach. The signaling server hands both ends time-limited TURN credentials
 * (TURN REST API, coturn's use-auth-secret); the terminal works, relayed, and the console and the
 * agent both say so. Expired credentials are refused by coturn, and a console holding only expired
 * ones cannot connect and says that the TURN server refused them. A file goes up and comes back
 * down over the same relayed path, with equal SHA-256 on the host, in the container and in the
 * download.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { issueTurnCredentials } from '@tether/signaling';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { docker, startContainer, type TestContainer } from '../../harness/docker.js';
import {
  launchConsoleIn,
  networkTest,
  startCoturn,
  startSignaling,
  type ConsoleBrowser,
  type Coturn,
  type SignalingInNetwork,
} from '../../harness/net-services.js';
import { TestNetwork } from '../../harness/netns.js';
import { waitFor } from '../../harness/wait.js';
import { runCleanups } from '../../harness/cleanups.js';

const turnProbe = fileURLToPath(new URL('../../harness/turn-probe.mjs', import.meta.url));

const TURN_SECRET = `turn-${randomBytes(12).toString('hex')}`;
const CONSOLE_TOKEN = `console-${randomBytes(12).toString('hex')}`;
const AGENT_TOKEN = `agent-${randomBytes(12).toString('hex')}`;

let net: TestNetwork;
let coturn: Coturn;
let signaling: SignalingInNetwork;
let agent: AgentProcess;
let container: TestContainer;
let consoleBrowser: ConsoleBrowser;
/** agents started by a test, whose logs go into its failure report */
const extraAgents: AgentProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  net = await TestNetwork.create([{ name: 'cloud' }, { name: 'console', behindNat: true }, { name: 'agent', behindNat: true }]);
  cleanups.push(() => net.close());
  coturn = await startCoturn(net, 'cloud', TURN_SECRET);
  cleanups.push(() => coturn.stop());
  signaling = await startSignaling(net, 'cloud', 7300, [
    '--console-token',
    CONSOLE_TOKEN,
    '--agent-token',
    AGENT_TOKEN,
    '--turn-url',
    coturn.url,
    '--turn-secret',
    TURN_SECRET,
  ]);
  cleanups.push(() => signaling.stop());
  container = await startContainer({ namePrefix: 'relay-plc' });
  cleanups.push(() => container.remove());
  agent = await startAgent({
    netns: net.host('agent').ns,
    signalingUrl: signaling.url,
    token: AGENT_TOKEN,
    agentId: `relay-${net.runId}`,
    name: 'agent behind NAT',
  });
  cleanups.push(() => agent.stop());
  consoleBrowser = await launchConsoleIn(net, 'console');
  cleanups.push(() => consoleBrowser.browser.close());
});

after(() => runCleanups('turn-relay', cleanups));

/** On failure: the page, agent, signaling and coturn logs in test-results/. */
const test = networkTest(
  'turn-relay',
  () => consoleBrowser?.page,
  () => [
    ['agent', agent?.logs().slice(-300) ?? []],
    ...extraAgents.map((extra): [string, string[]] => [`agent ${extra.agentId}`, extra.logs().slice(-300)]),
    ['signaling', signaling?.logs().slice(-100) ?? []],
    ['coturn', coturn?.logs().slice(-150) ?? []],
    ['page', consoleBrowser?.log.slice(-100) ?? []],
  ],
);

interface AgentLogLine {
  msg?: string;
  path?: { kind: string; local: string; remote: string };
}

function agentLines(process: AgentProcess): AgentLogLine[] {
  return process.logs().flatMap((line) => {
    try {
      return [JSON.parse(line) as AgentLogLine];
    } catch {
      return [];
    }
  });
}

test('with no path between console and agent, a terminal works through coturn, and both ends report it relayed', async () => {
  const ui: ConsolePage = await consoleBrowser.open({ signal: signaling.url, token: CONSOLE_TOKEN });
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.typeLine(tabId, 'echo relayed-$((6 * 7))');
  await ui.waitForLine(tabId, /relayed-42$/);

  const pathLabel = ui.panel(tabId).locator('[data-testid="tab-path"]');
  await waitFor(async () => (await pathLabel.getAttribute('data-path')) === 'relayed', 'the tab to show a relayed path', 15_000);
  assert.match((await pathLabel.textContent()) ?? '', /^relayed/);
  assert.equal((await ui.tab(tabId)).path, 'relayed');
  assert.match((await ui.agentState(agent.agentId)).text, /relayed/);

  const connected = agentLines(agent).filter((line) => line.msg === 'peer connected');
  assert.equal(connected.length, 1, 'one peer connection');
  assert.equal(connected[0]?.path?.kind, 'relayed', `the agent's selected pair: ${JSON.stringify(connected[0]?.path)}`);
  // The credentials the signaling server issued, as coturn saw them: `<expiry>:<role>.<org>.<who>`.
  const allocated = (user: RegExp) => coturn.logs().some((line) => user.test(line) && /ALLOCATE processed, success/.test(line));
  assert.ok(allocated(new RegExp(`user <\\d+:agent\\.default\\.${agent.agentId}>`)), "coturn granted the agent's allocation");
  assert.ok(allocated(/user <\d+:console\.default\./), "coturn granted the console's allocation");
  await ui.closeByClick(tabId);
});

test('through coturn, a file uploaded from the tab and downloaded back keeps its SHA-256 on both ends, and both ends report the path relayed', async () => {
  const TRANSFER_BYTES = 4 * 1024 * 1024;
  const HOME = '/home/plc';
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  const work = mkdtempSync(join(tmpdir(), 'tether-relay-files-'));
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  const bytes = randomBytes(TRANSFER_BYTES);
  const original = { path: join(work, 'relayed.bin'), sha256: sha256(bytes) };
  writeFileSync(original.path, bytes);

  const ui: ConsolePage = await consoleBrowser.open({ signal: signaling.url, token: CONSOLE_TOKEN });
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  // The shell starts in `/`, which the exec user (uid 1000) may not write.
  await ui.typeLine(tabId, `cd ${HOME} && echo in""-home`);
  await ui.waitForLine(tabId, 'in-home');
  const pathLabel = ui.panel(tabId).locator('[data-testid="tab-path"]');
  await waitFor(async () => (await pathLabel.getAttribute('data-path')) === 'relayed', 'the tab to show a relayed path', 15_000);
  const ended = (id: string) =>
    waitFor(
      async () => {
        const facts = (await ui.transfers(tabId)).find((t) => t.id === id);
        if (!facts) throw new Error(`transfer ${id} is not listed`);
        return ['done', 'failed', 'cancelled', 'interrupted'].includes(facts.state) ? facts : undefined;
      },
      `transfer ${id} to end`,
      180_000,
    );
  const menu = async (item: 'menu-upload' | 'menu-download') => {
    await ui.tabButton(tabId).click({ button: 'right' });
    await ui.page.locator(`[data-testid="tab-menu"] [data-testid="${item}"]`).click();
  };

  // Up, through "Upload…", into the shell's directory.
  await menu('menu-upload');
  const uploadDialog = ui.page.locator('[data-testid="upload-dialog"]');
  await uploadDialog.locator('[data-testid="upload-files"]').setInputFiles([original.path]);
  await uploadDialog.locator('[data-testid="upload-dialog-accept"]').click();
  const uploadId = await waitFor(async () => (await ui.transfers(tabId)).find((t) => t.direction === 'upload')?.id, 'the upload to appear');
  const uploaded = await ended(uploadId);
  assert.equal(uploaded.state, 'done', JSON.stringify(uploaded.error));
  assert.equal(uploaded.path, `${HOME}/relayed.bin`);
  assert.equal(uploaded.sha256, original.sha256, 'the console and the agent agreed on the SHA-256');
  const [inContainer] = (await docker('exec', '-u', '1000:1000', container.id, 'sha256sum', `${HOME}/relayed.bin`)).split(/\s+/);
  assert.equal(inContainer, original.sha256, 'the file in the container has the SHA-256 of the file on the host');

  // And back down, through "Download…".
  const saved = ui.page.waitForEvent('download', { timeout: 180_000 });
  await menu('menu-download');
  const downloadDialog = ui.page.locator('[data-testid="download-dialog"]');
  await downloadDialog.locator('[data-testid="download-path"]').fill('relayed.bin');
  await downloadDialog.locator('[data-testid="download-dialog-accept"]').click();
  const downloadId = await waitFor(
    async () => (await ui.transfers(tabId)).find((t) => t.direction === 'download')?.id,
    'the download to appear',
  );
  const downloaded = await ended(downloadId);
  assert.equal(downloaded.state, 'done', JSON.stringify(downloaded.error));
  assert.equal(downloaded.sha256, original.sha256);
  const download = await saved;
  assert.equal(download.suggestedFilename(), 'relayed.bin');
  const back = join(work, 'downloaded.bin');
  await download.saveAs(back);
  assert.equal(sha256(readFileSync(back)), original.sha256, 'the saved file has the SHA-256 of the original');

  // Both ends still on the relayed pair: the transfer channels rode the same peer connection.
  assert.equal(await pathLabel.getAttribute('data-path'), 'relayed');
  assert.equal((await ui.tab(tabId)).path, 'relayed');
  const connected = agentLines(agent).filter((line) => line.msg === 'peer connected');
  assert.equal(connected.at(-1)?.path?.kind, 'relayed', `the agent's selected pair: ${JSON.stringify(connected.at(-1)?.path)}`);
  await ui.closeByClick(tabId);
});

async function allocate(username: string, password: string): Promise<{ ok: boolean; code?: number; relayed?: string; reason?: string }> {
  const out = await net.exec('console', process.execPath, [turnProbe, coturn.address, String(coturn.port), username, password]);
  return JSON.parse(out) as { ok: boolean; code?: number; relayed?: string };
}

test('coturn grants an allocation to fresh credentials and refuses expired or forged ones with 401', async () => {
  const options = { urls: [coturn.url], secret: TURN_SECRET, ttlSeconds: 3600 };
  const fresh = issueTurnCredentials(options, 'console.probe.fresh').iceServers[0]!;
  const granted = await allocate(fresh.username!, fresh.credential!);
  assert.equal(granted.ok, true, JSON.stringify(granted));
  assert.match(granted.relayed ?? '', new RegExp(`^${coturn.address.replaceAll('.', '\\.')}:\\d+$`));

  const expired = issueTurnCredentials(options, 'console.probe.expired', Date.now() - 2 * 3600 * 1000).iceServers[0]!;
  assert.deepEqual(await allocate(expired.username!, expired.credential!), { ok: false, code: 401, reason: 'Unauthorized' });

  const forged = issueTurnCredentials({ ...options, secret: 'not-the-secret' }, 'console.probe.forged').iceServers[0]!;
  assert.equal((await allocate(forged.username!, forged.credential!)).code, 401);
});

test('with expired TURN credentials on both ends the console cannot reach an agent behind NAT, and says the TURN server refused them', async () => {
  // A second signaling server that issues no credentials: the console has only the expired ones
  // of its `ice` setting, the agent only expired static ones. One working relay end would be
  // enough (the other end's NAT address, learnt from coturn's STUN answer, is reachable from it).
  const bare = await startSignaling(net, 'cloud', 7301, ['--console-token', CONSOLE_TOKEN, '--agent-token', AGENT_TOKEN]);
  cleanups.push(() => bare.stop());
  const options = { urls: [coturn.url], secret: TURN_SECRET, ttlSeconds: 3600 };
  const twoHoursAgo = Date.now() - 2 * 3600 * 1000;
  const agentExpired = issueTurnCredentials(options, 'agent.expired', twoHoursAgo).iceServers[0]!;
  const second = await startAgent({
    netns: net.host('agent').ns,
    signalingUrl: bare.url,
    token: AGENT_TOKEN,
    agentId: `relay-expired-${net.runId}`,
    name: 'agent with expired TURN credentials',
    extraArgs: [
      '--ice-server',
      JSON.stringify({ urls: agentExpired.urls[0], username: agentExpired.username, credential: agentExpired.credential }),
    ],
  });
  cleanups.push(() => second.stop());
  extraAgents.push(second);
  const consoleExpired = issueTurnCredentials(options, 'console.expired', twoHoursAgo).iceServers[0]!;
  const ui = await consoleBrowser.open({ signal: bare.url, token: CONSOLE_TOKEN, ice: JSON.stringify([consoleExpired]) });
  const state = await waitFor(
    async () => {
      const current = await ui.agentState(second.agentId);
      return current.stage === 'failed' ? current : undefined;
    },
    'the connection to fail',
    60_000,
  );
  assert.match(state.text, /refused the credentials \(wrong or expired\)/, state.text);
  const refused = (user: string) => coturn.logs().some((line) => line.includes(user) && /401|Cannot find credentials/.test(line));
  assert.ok(refused(consoleExpired.username!), "coturn refused the console's allocation");
  assert.ok(refused(agentExpired.username!), "coturn refused the agent's allocation");
  assert.ok(
    second.logs().some((line) => line.includes('no TURN relay candidate')),
    'the agent logged that it has no relay',
  );
  assert.equal(agentLines(second).filter((line) => line.msg === 'peer connected').length, 0, 'no peer connection came up');
});
