/**
 * A path with a small MTU that drops what does not fit and says nothing, as a VPN or an IPv6
 * tunnel behind a firewall that filters ICMP does (harness/netns.ts, `blackHoleMtu`): the agent's
 * link carries IP packets of at most 1,280 bytes, the IPv6 minimum, TCP kept within it by MSS
 * clamping. A full SCTP packet of werift's was 1,228 bytes, 1,293 as an IPv4 datagram: keystrokes
 * passed, and any output longer than a packet stalled for good, while the tab looked open (werift
 * patch 021, agent/WERIFT.md). Here large output arrives whole, and a keystroke's echo after it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { startAgent, type AgentProcess } from '../../harness/agent-process.js';
import type { ConsolePage } from '../../harness/console-page.js';
import { startContainer, type TestContainer } from '../../harness/docker.js';
import { launchConsoleIn, networkTest, startSignaling, type ConsoleBrowser, type SignalingInNetwork } from '../../harness/net-services.js';
import { TestNetwork } from '../../harness/netns.js';
import { runCleanups } from '../../harness/cleanups.js';

const CONSOLE_TOKEN = `console-${randomBytes(12).toString('hex')}`;
const AGENT_TOKEN = `agent-${randomBytes(12).toString('hex')}`;
const MTU = 1280;
const LINES = 20_000;

let net: TestNetwork;
let signaling: SignalingInNetwork;
let agent: AgentProcess;
let container: TestContainer;
let consoleBrowser: ConsoleBrowser;
let ui: ConsolePage;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  net = await TestNetwork.create([{ name: 'cloud' }, { name: 'console' }, { name: 'agent' }]);
  cleanups.push(() => net.close());
  await net.blackHoleMtu('agent', MTU);
  signaling = await startSignaling(net, 'cloud', 7300, ['--console-token', CONSOLE_TOKEN, '--agent-token', AGENT_TOKEN]);
  cleanups.push(() => signaling.stop());
  container = await startContainer({ namePrefix: 'mtu-plc' });
  cleanups.push(() => container.remove());
  agent = await startAgent({
    netns: net.host('agent').ns,
    signalingUrl: signaling.url,
    token: AGENT_TOKEN,
    agentId: `mtu-${net.runId}`,
    name: `agent behind a ${MTU}-byte path`,
  });
  cleanups.push(() => agent.stop());
  consoleBrowser = await launchConsoleIn(net, 'console');
  cleanups.push(() => consoleBrowser.browser.close());
  ui = await consoleBrowser.open({ signal: signaling.url, token: CONSOLE_TOKEN });
});

after(() => runCleanups('path-mtu', cleanups));

const test = networkTest(
  'path-mtu',
  () => consoleBrowser?.page,
  () => [
    ['agent', agent?.logs().slice(-200) ?? []],
    ['signaling', signaling?.logs().slice(-100) ?? []],
    ['page', consoleBrowser?.log.slice(-100) ?? []],
  ],
);

test(`over a path of ${MTU} bytes that drops larger packets silently, ${LINES} lines of output arrive whole and in order`, async () => {
  const tabId = await ui.openTargetByClick(agent.agentId, container.name, 60_000);
  await ui.waitForPrompt(tabId);
  await ui.capture(tabId, true);
  await ui.typeLine(tabId, `seq 1 ${LINES}; echo seq""-done`);
  await ui.waitForLine(tabId, 'seq-done', 120_000);
  const text = Buffer.from(await ui.captured(tabId), 'base64')
    .toString('utf8')
    .replace(/\r/g, '');
  const numbers = text.split('\n').flatMap((line) => (/^\d+$/.test(line) ? [Number(line)] : []));
  assert.deepEqual(
    numbers,
    Array.from({ length: LINES }, (_, i) => i + 1),
    `every line 1..${LINES} once, in order`,
  );
  // The path still carries keystrokes and their echo after it.
  await ui.typeLine(tabId, 'echo after""-seq');
  await ui.waitForLine(tabId, 'after-seq', 60_000);
  const tab = await ui.tab(tabId);
  assert.equal(tab.resumeCount, 0, 'the connection never dropped');
  await ui.closeByClick(tabId);
});
