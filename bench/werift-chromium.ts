/**
 * Raw werift → Chromium transfers, without Tether's session or Docker: the werift end in its own
 * process (bench/werift-sender.ts), a data channel to a page of headless Chromium that counts what
 * arrives. Gives the werift send path's throughput and CPU per MB, and counts stalls: transfers
 * whose bytes stop arriving for STALL_MS although werift has queued them (WERIFT-NOTES.md,
 * agent/WERIFT.md "The stall"). A stalled connection is replaced before the next transfer.
 *
 *   node --conditions=source --import tsx bench/werift-chromium.ts [transfers] [MiB each] [close]
 *     close: werift closes the channel right after each transfer's last send, as a session that
 *     ends does; a transfer that loses its end is counted as a stall
 *   TETHER_BENCH_WERIFT=/path/to/werift/lib/index.mjs   another werift build (e.g. 0.25.x)
 *   TETHER_BENCH_CPU_PROF=<dir>                          --cpu-prof of the werift process
 *   node --conditions=source --import tsx bench/werift-chromium.ts echo [keystrokes] [werift|native]
 *     round trips of single bytes the peer echoes, back to back, timed in the page
 *
 * The same harness drives a native peer (bench/native-sender.ts, libdatachannel) with the option
 * `sender: 'native'` (or `TETHER_BENCH_SENDER=native`): the reference for what werift costs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../harness/browser.js';
import { percentile, round } from './stats.js';

/** No byte for this long while werift still had some to deliver: a stall. */
const STALL_MS = 10_000;

export interface WeriftChromiumResult {
  transfers: number;
  bytesEach: number;
  stalls: number;
  /** median over the transfers that finished */
  mbps: number | null;
  /** the werift process's CPU (user + system) per MB delivered, median */
  senderCpuMsPerMB: number | null;
  samples: { mbps: number[]; senderCpuMsPerMB: number[] };
  stallDetails: Array<{ transfer: number; received: number; sender: unknown }>;
}

/** The peer at the other end of the page: the agent's werift, or libdatachannel for reference. */
export type Sender = 'werift' | 'native';

const SENDER_SCRIPT: Record<Sender, string> = { werift: './werift-sender.ts', native: './native-sender.ts' };

interface Connection {
  child: ChildProcess;
  page: Page;
  next(type: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
  /** from the offer to the page's channel open */
  connectMs: number;
}

async function connect(browser: Browser, reuse?: Connection, sender: Sender = 'werift'): Promise<Connection> {
  const say = (s: string) => process.env.TETHER_BENCH_VERBOSE && console.error(`[${sender}→chromium] ${s}`);
  const execArgv = ['--conditions=source', '--import', 'tsx'];
  if (process.env.TETHER_BENCH_CPU_PROF) execArgv.push('--cpu-prof', '--cpu-prof-dir', process.env.TETHER_BENCH_CPU_PROF);
  const child =
    reuse?.child ??
    fork(fileURLToPath(new URL(SENDER_SCRIPT[sender], import.meta.url)), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (reuse) {
    child.removeAllListeners('message');
    await reuse.page.context().close();
  }
  const inbox: Record<string, unknown>[] = [];
  const waiters: Array<{ type: string; resolve: (m: Record<string, unknown>) => void }> = [];
  const page = await (await browser.newContext()).newPage();
  // werift trickles candidates before its answer is applied in the page: held until then.
  let iceHeld: RTCIceCandidateInit[] | undefined = [];
  const addIce = (c: RTCIceCandidateInit) =>
    page.evaluate((c) => (window as unknown as { pc: RTCPeerConnection }).pc.addIceCandidate(c), c);
  child.on('message', (message: Record<string, unknown>) => {
    if (message.type === 'ice') {
      if (iceHeld) iceHeld.push(message.candidate as RTCIceCandidateInit);
      else void addIce(message.candidate as RTCIceCandidateInit);
      return;
    }
    const at = waiters.findIndex((w) => w.type === message.type);
    if (at >= 0) waiters.splice(at, 1)[0]!.resolve(message);
    else inbox.push(message);
  });
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const at = inbox.findIndex((m) => m.type === type);
      if (at >= 0) return resolve(inbox.splice(at, 1)[0]!);
      const timer = setTimeout(() => reject(new Error(`no ${type} from the ${sender} process`)), 60_000);
      waiters.push({ type, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  if (!reuse) await next('ready');
  say('werift ready');
  // Chromium's host candidates are `<uuid>.local` names: dropped, as the agent drops them (werift
  // would resolve them with multicast DNS); werift learns the page's address from its checks.
  await page.exposeFunction(
    'sendIce',
    (c: RTCIceCandidateInit) => !/\.local /.test(c.candidate ?? '') && child.send({ type: 'ice', candidate: c }),
  );
  const offer = await page.evaluate(async () => {
    const w = window as unknown as { pc: RTCPeerConnection; dc: RTCDataChannel; received: number; sendIce(c: RTCIceCandidateInit): void };
    w.pc = new RTCPeerConnection();
    w.dc = w.pc.createDataChannel('bench');
    w.dc.binaryType = 'arraybuffer';
    w.received = 0;
    w.dc.onmessage = (e: MessageEvent<ArrayBuffer>) => void (w.received += e.data.byteLength);
    w.pc.onicecandidate = (e) => e.candidate && w.sendIce(e.candidate.toJSON());
    await w.pc.setLocalDescription(await w.pc.createOffer());
    return w.pc.localDescription!.sdp;
  });
  const t0 = performance.now();
  child.send({ type: 'offer', sdp: offer });
  const answer = await next('answer');
  say('answered');
  await page.evaluate(
    (sdp) => (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp }),
    answer.sdp as string,
  );
  for (const c of iceHeld) await addIce(c);
  iceHeld = undefined;
  const opened = await next('channel');
  say(`channel at werift ${JSON.stringify(opened.stages)}`);
  await page.waitForFunction(() => (window as unknown as { dc: RTCDataChannel }).dc.readyState === 'open', undefined, {
    timeout: 30_000,
    polling: 'raf',
  });
  const connectMs = performance.now() - t0;
  return {
    connectMs,
    child,
    page,
    next,
    async close() {
      child.send({ type: 'quit' });
      await new Promise((resolve) => child.once('exit', resolve));
      await page.context().close();
    },
  };
}

/** `transfers` transfers of `bytes` each, werift → Chromium; a stall costs its connection. */
export async function weriftToChromium(
  transfers: number,
  bytes: number,
  browser?: Browser,
  options: { closeAfter?: boolean; sender?: Sender } = {},
): Promise<WeriftChromiumResult> {
  const sender = options.sender ?? 'werift';
  const ownBrowser = browser ? undefined : await launchChromium();
  const b = browser ?? ownBrowser!;
  const mbps: number[] = [];
  const cpuPerMB: number[] = [];
  const stallDetails: WeriftChromiumResult['stallDetails'] = [];
  let conn: Connection | undefined;
  try {
    for (let transfer = 1; transfer <= transfers; transfer++) {
      conn ??= await connect(b, undefined, sender);
      const before = await (conn.child.send({ type: 'stats' }), conn.next('stats'));
      await conn.page.evaluate(() => void ((window as unknown as { received: number }).received = 0));
      const t0 = performance.now();
      conn.child.send({ type: 'send', run: transfer, bytes, close: options.closeAfter === true });
      const outcome = await conn.page.evaluate(
        async ({ bytes, stallMs }) => {
          const w = window as unknown as { received: number; dc: RTCDataChannel };
          let last = 0;
          let lastChange = performance.now();
          while (w.received < bytes) {
            await new Promise((r) => setTimeout(r, 20));
            if (w.received !== last) {
              last = w.received;
              lastChange = performance.now();
            } else if (performance.now() - lastChange > (w.dc.readyState === 'closed' ? 1000 : stallMs))
              return { stalled: true, received: w.received };
          }
          return { stalled: false, received: w.received };
        },
        { bytes, stallMs: STALL_MS },
      );
      const ms = performance.now() - t0 - (outcome.stalled ? STALL_MS : 0);
      const after = await (conn.child.send({ type: 'stats' }), conn.next('stats'));
      if (outcome.stalled) {
        stallDetails.push({ transfer, received: outcome.received, sender: after });
        console.error(
          `[${sender}→chromium] transfer ${transfer} stalled at ${outcome.received} of ${bytes} bytes: ${JSON.stringify(after)}`,
        );
        await conn.close().catch(() => undefined);
        conn = undefined;
        continue;
      }
      await conn.next('queued');
      mbps.push(bytes / 1e6 / (ms / 1000));
      cpuPerMB.push(((after.cpuMs as number) - (before.cpuMs as number)) / (bytes / 1e6));
      if (options.closeAfter) conn = await connect(b, conn, sender); // its channel is closed: a new connection
    }
  } finally {
    await conn?.close().catch(() => undefined);
    await ownBrowser?.close();
  }
  return {
    transfers,
    bytesEach: bytes,
    stalls: stallDetails.length,
    mbps: mbps.length > 0 ? round(percentile(mbps, 50), 2) : null,
    senderCpuMsPerMB: cpuPerMB.length > 0 ? round(percentile(cpuPerMB, 50), 1) : null,
    samples: { mbps: mbps.map((v) => round(v, 2)), senderCpuMsPerMB: cpuPerMB.map((v) => round(v, 1)) },
    stallDetails,
  };
}

export interface ChannelEcho {
  /** round trips of single bytes, ms, timed in the page (its clock has 0.1 ms steps) */
  p50Ms: number;
  p99Ms: number;
  /** the peer process's CPU per echoed byte, ms */
  peerCpuMsPerEcho: number;
  samples: number;
}

/**
 * `keystrokes` single bytes sent by the page one after another, each when the last came back, and
 * echoed by the peer: a keystroke's round trip over the data channel alone, without Tether,
 * Docker or a TTY (the first 10 % are left out as warm-up).
 */
export async function channelEcho(keystrokes: number, sender: Sender = 'werift', browser?: Browser): Promise<ChannelEcho> {
  const ownBrowser = browser ? undefined : await launchChromium();
  const conn = await connect(browser ?? ownBrowser!, undefined, sender);
  try {
    conn.child.send({ type: 'echo' });
    await conn.next('echoing');
    const before = await (conn.child.send({ type: 'stats' }), conn.next('stats'));
    const trips = await conn.page.evaluate(pageEcho, keystrokes);
    const after = await (conn.child.send({ type: 'stats' }), conn.next('stats'));
    const kept = trips.slice(Math.floor(trips.length / 10));
    return {
      p50Ms: round(percentile(kept, 50), 2),
      p99Ms: round(percentile(kept, 99), 2),
      peerCpuMsPerEcho: round(((after.cpuMs as number) - (before.cpuMs as number)) / trips.length, 3),
      samples: kept.length,
    };
  } finally {
    await conn.close().catch(() => undefined);
    await ownBrowser?.close();
  }
}

/** In the page: `n` bytes on `window.dc`, each sent when the previous one came back. */
export async function pageEcho(n: number): Promise<number[]> {
  const dc = (window as unknown as { dc: RTCDataChannel }).dc;
  const trips: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`byte ${i} not echoed within 5 s`)), 5_000);
      dc.onmessage = () => {
        clearTimeout(timer);
        resolve();
      };
      dc.send(new Uint8Array([0x61 + (i % 26)]));
    });
    trips.push(performance.now() - t0);
  }
  dc.onmessage = null;
  return trips;
}

/**
 * From the offer reaching the werift process to the page's channel open, `count` fresh
 * connections one after another in one werift process (after one to warm it up): ICE, DTLS and
 * SCTP between werift and Chromium.
 */
export async function weriftConnectTimes(count: number, browser?: Browser): Promise<number[]> {
  const ownBrowser = browser ? undefined : await launchChromium();
  const times: number[] = [];
  try {
    let conn: Connection | undefined;
    for (let i = 0; i <= count; i++) {
      conn = await connect(browser ?? ownBrowser!, conn);
      if (i > 0) times.push(round(conn.connectMs, 1));
    }
    await conn?.close();
  } finally {
    await ownBrowser?.close();
  }
  return times;
}

const sender = (process.env.TETHER_BENCH_SENDER ?? 'werift') as Sender;
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === 'echo') {
  console.log(JSON.stringify(await channelEcho(Number(process.argv[3] ?? 1000), (process.argv[4] as Sender | undefined) ?? sender)));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === 'connect') {
  const times = await weriftConnectTimes(Number(process.argv[3] ?? 10));
  console.log(JSON.stringify({ connectMs: round(percentile(times, 50), 1), samples: times }));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const transfers = Number(process.argv[2] ?? 30);
  const mib = Number(process.argv[3] ?? 8);
  const result = await weriftToChromium(transfers, mib * 1024 * 1024, undefined, { closeAfter: process.argv[4] === 'close', sender });
  console.log(JSON.stringify(result, null, 2));
}
