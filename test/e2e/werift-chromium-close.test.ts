/**
 * werift (the agent's end) against Chromium's own data channels (the console's end), in one
 * page of headless Chromium: what happens to a stream id when both ends close its channel at once.
 *
 * The agent closes a `file:` channel after a listing as the console closes it on receiving the
 * listing; each end's stream reset can cross the other's. Chromium resets once, frees the id
 * once both directions are reset and gives it to the next channel it opens. werift without patch
 * 026 (`sctp-reset-once-per-stream`) sent a second reset of the stream once its first was
 * answered, and that closed the console's next channel before a byte went over it: an upload
 * opened after a listing was interrupted with 0 bytes (a clean-clone run of file-transfer).
 * The same freed id meets a late answer to werift's reset (patch 027) and a reset werift deferred
 * for data still missing (patch 028: a tab of network-faults closed as it opened), and a copy of
 * the page's reset request that comes after the id was reused (patch 029).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../harness/browser.js';
import { waitFor } from '../../harness/wait.js';
import { patchedWerift, weriftWithout, type Werift } from '../../harness/patched-werift.js';

type Peer = InstanceType<Werift['RTCPeerConnection']>;

interface PageWindow {
  pc: RTCPeerConnection;
  sendIce(candidate: RTCIceCandidateInit): void;
}

/** werift's end of a data channel, as far as these rounds use it. */
interface WeriftChannel {
  label: string;
  readyState: string;
  send(data: string): void;
}

/** What one round saw in the page: the ids of the closed channel and of the next one, and how the next one ended up. */
interface Round {
  firstId: number | null;
  nextId: number | null;
  /** the next channel's readyState once werift's resets are over */
  nextState: string;
  /** what werift received on the next channel */
  received: string[];
}

let browser: Browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** A peer connection between a fresh page and werift `w`, with the page as the offerer (as the console is). */
async function connect(w: Werift): Promise<{ page: Page; peer: Peer; received: Map<string, string[]> }> {
  const page = await (await browser.newContext()).newPage();
  const peer = new w.RTCPeerConnection({
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceUseIpv6: false,
  });
  const received = new Map<string, string[]>();
  peer.onDataChannel.subscribe((channel) => {
    received.set(channel.label, []);
    channel.onMessage.subscribe((data: string | Buffer) => {
      const text = data.toString();
      received.get(channel.label)!.push(text);
      // The agent answering a listing and closing its channel: here, as soon as it is asked.
      if (text === 'close now') channel.close();
    });
  });
  let held: RTCIceCandidateInit[] | undefined = [];
  const addIce = (c: RTCIceCandidateInit) => page.evaluate((c) => (window as unknown as PageWindow).pc.addIceCandidate(c), c);
  peer.onIceCandidate.subscribe((c) => {
    const json = c?.toJSON();
    if (!json?.candidate) return;
    const candidate = { candidate: json.candidate, sdpMid: json.sdpMid, sdpMLineIndex: json.sdpMLineIndex };
    if (held) held.push(candidate);
    else void addIce(candidate);
  });
  // Chromium's host candidates are mDNS names, which the agent drops too: werift learns the page's
  // address from its checks.
  await page.exposeFunction('sendIce', (c: RTCIceCandidateInit) => {
    if (c.candidate && !/\.local /.test(c.candidate)) void peer.addIceCandidate(c as never);
  });
  const offer = await page.evaluate(async () => {
    const w = window as unknown as PageWindow & { control: RTCDataChannel };
    w.pc = new RTCPeerConnection();
    w.control = w.pc.createDataChannel('control');
    w.pc.onicecandidate = (e) => e.candidate && w.sendIce(e.candidate.toJSON());
    await w.pc.setLocalDescription(await w.pc.createOffer());
    return w.pc.localDescription!.sdp;
  });
  await peer.setRemoteDescription({ type: 'offer', sdp: offer });
  await peer.setLocalDescription(await peer.createAnswer());
  await page.evaluate(
    (sdp) => (window as unknown as PageWindow).pc.setRemoteDescription({ type: 'answer', sdp }),
    peer.localDescription!.sdp,
  );
  for (const c of held) await addIce(c);
  held = undefined;
  await page.waitForFunction(() => (window as unknown as { control: RTCDataChannel }).control.readyState === 'open', undefined, {
    timeout: 30_000,
  });
  return { page, peer, received };
}

/** werift's SCTP transport, as far as these rounds look into it. */
interface WeriftTransport {
  dataChannels: Record<string, WeriftChannel>;
  sctp: {
    reconfigRequest: unknown;
    reconfigQueue: number[];
    receiveReconfigParam(param: { type: number }): Promise<void>;
    receiveDataChunk(chunk: { streamId: number; tsn: number; userData: Buffer }): void;
  };
}

const transportOf = (peer: Peer) => (peer as unknown as { sctpTransport: WeriftTransport }).sctpTransport;

/** Whether werift's stream resets are over: none queued, none awaiting its answer. */
function resetsOver(peer: Peer): boolean {
  const { sctp } = transportOf(peer);
  return !sctp.reconfigRequest && sctp.reconfigQueue.length === 0;
}

const until = (probe: () => unknown, what: string, ms = 10_000) => waitFor(probe, what, ms, 20);

/** What the page keeps of a round that closes a channel and opens the next on its id. */
type PageRounds = Record<number, { first: RTCDataChannel; next?: RTCDataChannel; echo?: string }>;

/** What a round that checks the next channel at both ends saw. */
type BothEnds = Round & { echoed: boolean; atWerift: string };

/**
 * The page opens `<label>-<n>` and, once open, closes it in one of four ways: `ask` (asks werift
 * to close it), `lose` (sends `lost-<n>` on its control channel, then asks werift to close it),
 * `self` (closes it itself) or `both` (asks werift to close it and closes it itself in the same
 * turn); as it closes, the page opens `next-<n>`, which sends `offer` once open and keeps what
 * werift sends it.
 */
async function closeAndReopen(page: Page, label: string, n: number, how: 'ask' | 'lose' | 'self' | 'both'): Promise<void> {
  await page.evaluate(
    ({ label, n, how }) => {
      const w = window as unknown as PageWindow & { control: RTCDataChannel; rounds: PageRounds };
      w.rounds ??= {};
      const first = w.pc.createDataChannel(`${label}-${n}`);
      w.rounds[n] = { first };
      first.onopen = () => {
        if (how === 'self') return first.close();
        if (how === 'lose') w.control.send(`lost-${n}`);
        first.send('close now');
        if (how === 'both') first.close();
      };
      first.onclose = () => {
        const next = w.pc.createDataChannel(`next-${n}`);
        w.rounds[n]!.next = next;
        next.onopen = () => next.send('offer');
        next.onmessage = (e) => void (w.rounds[n]!.echo = String(e.data));
      };
    },
    { label, n, how },
  );
}

/**
 * One round: the page opens `listing-<n>`, asks werift to close it and closes it itself in the same
 * turn (werift's reset crosses Chromium's), and opens `next-<n>` the moment the first has closed;
 * the next channel sends a message once open. Returns once werift's resets are over.
 */
async function round(page: Page, peer: Peer, received: Map<string, string[]>, n: number): Promise<Round> {
  await closeAndReopen(page, 'listing', n, 'both');
  // Without the patch the next channel may close before its offer: waited for, not required here.
  await until(() => (received.get(`next-${n}`)?.length ?? 0) > 0, `next-${n} to carry its offer`).catch(() => undefined);
  await until(() => resetsOver(peer), "werift's stream resets to be over");
  // A reset still on the wire when werift's queue emptied: its answer is a round trip away.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const seen = await page.evaluate((n) => {
    const r = (window as unknown as { rounds: PageRounds }).rounds[n]!;
    return { firstId: r.first.id, nextId: r.next?.id ?? null, nextState: r.next?.readyState ?? 'never made' };
  }, n);
  return { ...seen, received: [...(received.get(`next-${n}`) ?? [])] };
}

/** `run` on a fresh page and peer connection with werift `w`, both closed after it. */
async function withConnection<T>(w: Werift, run: (page: Page, peer: Peer, received: Map<string, string[]>) => Promise<T>): Promise<T> {
  const { page, peer, received } = await connect(w);
  try {
    return await run(page, peer, received);
  } finally {
    await peer.close();
    await page.context().close();
  }
}

const rounds = (w: Werift, count: number) =>
  withConnection(w, async (page, peer, received) => {
    const seen: Round[] = [];
    for (let n = 0; n < count; n++) seen.push(await round(page, peer, received, n));
    return seen;
  });

/**
 * Once werift's resets are over: whether `next-<n>` is open at both ends and carries a message from
 * werift to the page, with the ids the page gave both channels and what werift received on the next.
 */
async function nextAtBothEnds(page: Page, peer: Peer, received: Map<string, string[]>, n: number): Promise<BothEnds> {
  await until(() => resetsOver(peer), "werift's stream resets to be over");
  // A reset of the next stream, if werift sent one, is answered a round trip later.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const channel = Object.values(transportOf(peer).dataChannels).find((c) => c.label === `next-${n}`);
  if (channel?.readyState === 'open') channel.send('echo');
  await until(
    async () => (await page.evaluate((n) => (window as unknown as { rounds: PageRounds }).rounds[n]!.echo, n)) === 'echo',
    `werift's message on next-${n} to reach the page`,
    5000,
  ).catch(() => undefined);
  const seen = await page.evaluate((n) => {
    const r = (window as unknown as { rounds: PageRounds }).rounds[n]!;
    return { firstId: r.first.id, nextId: r.next?.id ?? null, nextState: r.next?.readyState ?? 'never made', echoed: r.echo === 'echo' };
  }, n);
  return { ...seen, atWerift: channel?.readyState ?? 'gone', received: [...(received.get(`next-${n}`) ?? [])] };
}

/**
 * werift closes `closed-<n>` and the answer to its reset is lost once (a datagram dropped at a busy
 * socket, or a peer that answers "in progress" and performs the reset when the data before it has
 * come): the page, whose end of the stream is reset both ways, opens `next-<n>` on the freed id as
 * the first closes. Neither werift's reset sent again nor its late answer may close the next
 * channel, which must carry messages both ways.
 */
async function lateAnswerRound(page: Page, peer: Peer, received: Map<string, string[]>, n: number): Promise<BothEnds> {
  const { sctp } = transportOf(peer);
  const receive = sctp.receiveReconfigParam.bind(sctp);
  let dropped = false;
  sctp.receiveReconfigParam = async (param) => {
    if (param.type === 16 && !dropped) {
      dropped = true; // the first Re-configuration Response: lost
      return;
    }
    return receive(param);
  };
  try {
    await closeAndReopen(page, 'closed', n, 'ask');
    await until(() => dropped, "werift's reset to be answered (and the answer lost)");
    await until(() => (received.get(`next-${n}`)?.length ?? 0) > 0, `next-${n} to carry its offer`).catch(() => undefined);
    // With 027 the next channel's opening ends the reset; without it werift asks again after its
    // retransmission timeout (1 s or more) and acts on the answer.
    return await nextAtBothEnds(page, peer, received, n);
  } finally {
    sctp.receiveReconfigParam = receive;
  }
}

/**
 * werift closes `held-<n>` just after the page sent a message on its control channel, and that
 * message's packet is lost (a datagram dropped at a busy socket) until the page's next channel has
 * reached werift. Chromium's reset of the closed stream then names a TSN werift has not had all of:
 * werift answers it and defers the reset (patch 017), while the page, its end of the stream reset both
 * ways, opens `next-<n>` on the freed id. The next channel's data must wait for the deferred reset
 * (RFC 6525 5.2.2), not be closed by it when the lost message comes.
 */
async function deferredResetRound(
  page: Page,
  peer: Peer,
  received: Map<string, string[]>,
  n: number,
): Promise<BothEnds & { lost: string[] }> {
  const { sctp } = transportOf(peer);
  const receiveData = sctp.receiveDataChunk.bind(sctp);
  let drops = 0;
  let nextArrived = false;
  sctp.receiveDataChunk = (chunk) => {
    const text = chunk.userData.toString('latin1');
    if (text.includes(`next-${n}`)) nextArrived = true;
    if (text === `lost-${n}` && !nextArrived) {
      drops++; // the packet, and each retransmission until the next channel's opening has come
      return;
    }
    receiveData(chunk);
  };
  try {
    await closeAndReopen(page, 'held', n, 'lose');
    await until(() => nextArrived, `next-${n}'s opening to reach werift's SCTP`);
    await until(() => received.get('control')?.includes(`lost-${n}`), `lost-${n}, sent again, to reach werift`);
    await until(() => (received.get(`next-${n}`)?.length ?? 0) > 0, `next-${n} to carry its offer`).catch(() => undefined);
    const seen = await nextAtBothEnds(page, peer, received, n);
    assert.ok(drops > 0, 'the control message was dropped at least once');
    return { ...seen, lost: (received.get('control') ?? []).filter((m) => m === `lost-${n}`) };
  } finally {
    sctp.receiveDataChunk = receiveData;
  }
}

/**
 * The page closes `copied-<n>` and opens `next-<n>` on the freed id as it closes; once the next
 * channel has carried its offer, a copy of Chromium's reset request for the closed stream reaches
 * werift again (a retransmission whose original was answered: on a path that reorders, it can come
 * after the next channel's opening). werift must answer it and not carry it out again.
 */
async function copiedRequestRound(
  page: Page,
  peer: Peer,
  received: Map<string, string[]>,
  n: number,
): Promise<BothEnds & { copied: boolean }> {
  const { sctp } = transportOf(peer);
  const receive = sctp.receiveReconfigParam.bind(sctp);
  const requests: { type: number }[] = [];
  sctp.receiveReconfigParam = async (param) => {
    if (param.type === 13) requests.push(param); // an Outgoing SSN Reset Request
    return receive(param);
  };
  try {
    await closeAndReopen(page, 'copied', n, 'self');
    await until(() => (received.get(`next-${n}`)?.length ?? 0) > 0, `next-${n} to carry its offer`);
    await until(() => resetsOver(peer), "werift's stream resets to be over");
    const copied = requests.length > 0;
    if (copied) await receive(requests.at(-1)!);
    return { ...(await nextAtBothEnds(page, peer, received, n)), copied };
  } finally {
    sctp.receiveReconfigParam = receive;
  }
}

/** One round of `round` on a fresh page and peer connection with werift `w`. */
const oneRound = <T>(w: Werift, round: (page: Page, peer: Peer, received: Map<string, string[]>, n: number) => Promise<T>) =>
  withConnection(w, (page, peer, received) => round(page, peer, received, 0));

describe('werift and Chromium closing a channel at once', () => {
  test("the console's next channel takes the closed channel's id and stays open", async () => {
    const seen = await rounds(await patchedWerift(), 5);
    for (const r of seen) {
      assert.equal(r.nextId, r.firstId, `Chromium gives the next channel the id just freed: ${JSON.stringify(r)}`);
      assert.equal(r.nextState, 'open', JSON.stringify(seen));
      assert.deepEqual(r.received, ['offer'], JSON.stringify(seen));
    }
  });

  test('werift without the sctp-reset-once-per-stream patch closes the next channel', async () => {
    const seen = await rounds(await weriftWithout('sctp-reset-once-per-stream'), 5);
    assert.ok(
      seen.some((r) => r.nextId === r.firstId && r.nextState === 'closed'),
      `no round's next channel was closed: ${JSON.stringify(seen)}`,
    );
  });
  test("a channel opened on an id whose reset's answer werift has not had yet stays open, both ways", async () => {
    const r = await oneRound(await patchedWerift(), lateAnswerRound);
    assert.equal(r.nextId, r.firstId, `Chromium gives the next channel the id just freed: ${JSON.stringify(r)}`);
    assert.equal(r.nextState, 'open', JSON.stringify(r));
    assert.equal(r.atWerift, 'open', JSON.stringify(r));
    assert.deepEqual(r.received, ['offer'], JSON.stringify(r));
    assert.ok(r.echoed, `werift's message on the next channel reached the page: ${JSON.stringify(r)}`);
  });

  test('werift without the sctp-stream-reopened-before-reset-answer patch closes that channel when the answer comes', async () => {
    const r = await oneRound(await weriftWithout('sctp-stream-reopened-before-reset-answer'), lateAnswerRound);
    assert.equal(r.nextId, r.firstId, JSON.stringify(r));
    assert.equal(r.atWerift, 'gone', JSON.stringify(r));
    assert.ok(!r.echoed, JSON.stringify(r));
  });

  test('a channel opened on an id whose reset werift deferred for lost data stays open once that data comes', async () => {
    const r = await oneRound(await patchedWerift(), deferredResetRound);
    assert.equal(r.nextId, r.firstId, `Chromium gives the next channel the id just freed: ${JSON.stringify(r)}`);
    assert.deepEqual(r.lost, ['lost-0'], `the lost message came once: ${JSON.stringify(r)}`);
    assert.equal(r.nextState, 'open', JSON.stringify(r));
    assert.equal(r.atWerift, 'open', JSON.stringify(r));
    assert.deepEqual(r.received, ['offer'], JSON.stringify(r));
    assert.ok(r.echoed, `werift's message on the next channel reached the page: ${JSON.stringify(r)}`);
  });

  test('werift without the sctp-data-held-behind-deferred-reset patch closes that channel when the lost data comes', async () => {
    const r = await oneRound(await weriftWithout('sctp-data-held-behind-deferred-reset'), deferredResetRound);
    assert.equal(r.nextId, r.firstId, JSON.stringify(r));
    assert.equal(r.atWerift, 'gone', JSON.stringify(r));
    assert.ok(!r.echoed, JSON.stringify(r));
  });

  test("a copy of the peer's reset request that comes after the next channel opened on its id is answered, not carried out", async () => {
    const r = await oneRound(await patchedWerift(), copiedRequestRound);
    assert.ok(r.copied, `Chromium's reset request was seen: ${JSON.stringify(r)}`);
    assert.equal(r.nextId, r.firstId, `Chromium gives the next channel the id just freed: ${JSON.stringify(r)}`);
    assert.equal(r.nextState, 'open', JSON.stringify(r));
    assert.equal(r.atWerift, 'open', JSON.stringify(r));
    assert.deepEqual(r.received, ['offer'], JSON.stringify(r));
    assert.ok(r.echoed, `werift's message on the next channel reached the page: ${JSON.stringify(r)}`);
  });

  test('werift without the sctp-reset-request-once-by-sequence patch closes that channel when the copy comes', async () => {
    const r = await oneRound(await weriftWithout('sctp-reset-request-once-by-sequence'), copiedRequestRound);
    assert.ok(r.copied, JSON.stringify(r));
    assert.equal(r.nextId, r.firstId, JSON.stringify(r));
    assert.equal(r.atWerift, 'gone', JSON.stringify(r));
    assert.ok(!r.echoed, JSON.stringify(r));
  });
});
