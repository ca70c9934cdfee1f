/**
 * The test network itself, so that tests built on it can trust it: NAT separates the hosts behind
 * it, a cut link passes nothing and comes back, loss drops about the share asked for, and the delay
 * holds every packet at least as long as asked (a lower bound the delayer guarantees, not a timing
 * of the machine). UDP probes run inside the namespaces (harness/udp-probe.mjs).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { startInNetwork } from '../../harness/net-process.js';
import { TestNetwork } from '../../harness/netns.js';

const probeScript = fileURLToPath(new URL('../../harness/udp-probe.mjs', import.meta.url));
const ECHO_PORT = 40_000;

interface ProbeResult {
  sent: number;
  received: number;
  duplicates: number;
  rttMs: number[];
}

let net: TestNetwork;

before(async () => {
  net = await TestNetwork.create([{ name: 'cloud' }, { name: 'site', behindNat: true }, { name: 'plant', behindNat: true }]);
  for (const host of ['cloud', 'site', 'plant']) {
    await startInNetwork(net, host, process.execPath, [probeScript, 'echo', '0.0.0.0', String(ECHO_PORT)], {
      ready: /^ready$/,
      name: `echo in ${host}`,
    });
  }
});

after(async () => {
  await net?.close();
});

async function probe(from: string, to: string, count: number, gapMs = 10, firstByte = 0): Promise<ProbeResult> {
  const out = await net.exec(from, process.execPath, [
    probeScript,
    'probe',
    net.host(to).address,
    String(ECHO_PORT),
    String(count),
    String(gapMs),
    String(firstByte),
  ]);
  return JSON.parse(out) as ProbeResult;
}

it('a host behind NAT reaches the cloud, but nothing reaches it, and two NATed hosts have no path between them', async () => {
  assert.equal((await probe('site', 'cloud', 10)).received, 10);
  assert.equal((await probe('plant', 'cloud', 10)).received, 10);
  assert.equal((await probe('cloud', 'site', 5)).received, 0, 'the cloud cannot open a path into the NAT');
  assert.equal((await probe('site', 'plant', 5)).received, 0);
  assert.equal((await probe('plant', 'site', 5)).received, 0);
});

it('a cut link passes nothing either way, and works again once restored', async () => {
  await net.cut('site');
  try {
    assert.equal((await probe('site', 'cloud', 10)).received, 0);
  } finally {
    await net.restore('site');
  }
  assert.equal((await probe('site', 'cloud', 10)).received, 10);
});

it('30% loss on a link drops about that share in each direction, and restore ends it', async () => {
  await net.impair('site', { lossPercent: 30 });
  const lossy = await probe('site', 'cloud', 400, 2);
  // A round trip survives both directions with probability 0.7² = 0.49; 400 samples put it far
  // inside 0.35..0.63 (more than four standard deviations either side).
  const share = lossy.received / lossy.sent;
  assert.ok(share > 0.35 && share < 0.63, `share of round trips that survived: ${share}`);
  assert.equal(lossy.duplicates, 0);
  await net.restore('site');
  assert.equal((await probe('site', 'cloud', 50, 2)).received, 50);
});

it('a 300 ms delay holds every packet at least that long in each direction, with nothing lost or doubled', async () => {
  await net.impair('plant', { delayMs: 300 });
  try {
    const delayed = await probe('plant', 'cloud', 50, 20);
    assert.equal(delayed.received, 50, 'delay alone loses nothing');
    assert.equal(delayed.duplicates, 0);
    assert.ok(Math.min(...delayed.rttMs) >= 600, `every round trip crosses the delayed link twice: min ${Math.min(...delayed.rttMs)} ms`);
    const other = await probe('site', 'cloud', 20, 10);
    assert.ok(Math.max(...other.rttMs) < 600, 'the other links are not delayed');
  } finally {
    await net.restore('plant');
  }
  const after = await probe('plant', 'cloud', 20, 10);
  assert.ok(Math.max(...after.rttMs) < 600, 'restore ends the delay');
});

it('loss and delay together: about the share lost, and what arrives is delayed', async () => {
  await net.impair('site', { lossPercent: 30, delayMs: 300 });
  try {
    const result = await probe('site', 'cloud', 200, 5);
    const share = result.received / result.sent;
    assert.ok(share > 0.3 && share < 0.68, `share of round trips that survived: ${share}`);
    assert.ok(Math.min(...result.rttMs) >= 600, `min round trip ${Math.min(...result.rttMs)} ms`);
  } finally {
    await net.restore('site');
  }
});

it('a stalled link drops DTLS application data (first byte 23) and passes STUN (0, 1) and DTLS handshakes (22); restore ends it', async () => {
  await net.impair('site', { stallData: true });
  try {
    assert.equal((await probe('site', 'cloud', 10, 10, 23)).received, 0, 'application data is dropped');
    for (const firstByte of [0, 1, 22])
      assert.equal((await probe('site', 'cloud', 10, 10, firstByte)).received, 10, `first byte ${firstByte} passes`);
  } finally {
    await net.restore('site');
  }
  assert.equal((await probe('site', 'cloud', 10, 10, 23)).received, 10);
});
