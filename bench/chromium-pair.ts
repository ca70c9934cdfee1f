/**
 * Chromium to Chromium: a data channel between two pages of the same headless Chromium, each in its
 * own browser context (its own renderer process), over loopback UDP as the console's channels go.
 * The same frames and watermarks as the agent's output (bench/werift-sender.ts) one way, and the
 * same single-byte round trips as a keystroke's echo. Not part of the product: with Chromium at
 * both ends nothing of Tether's or werift's is on the path, so these are what a data channel with
 * Chromium at one end reaches on this machine (bench/README.md, "The floors").
 *
 *   node --conditions=source --import tsx bench/chromium-pair.ts [transfers] [MiB each] [keystrokes]
 */
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHANNEL_BUFFER_HIGH_BYTES, CHANNEL_BUFFER_LOW_BYTES, MAX_FRAME_BYTES } from '@tether/protocol';
import { launchChromium } from '../harness/browser.js';
import { percentile, round } from './stats.js';
import { pageEcho } from './werift-chromium.js';

export interface ChromiumPairResult {
  /** median of the transfers, page to page */
  mbps: number;
  samples: number[];
  /** single-byte round trips, the second page echoing, ms (the first 10 % left out) */
  echoP50Ms: number;
  echoP99Ms: number;
}

type PairWindow = {
  pc: RTCPeerConnection;
  dc: RTCDataChannel;
  received: number;
  echo: boolean;
  sendIce(c: RTCIceCandidateInit): void;
};

async function pair(browser: Browser): Promise<{ a: Page; b: Page; close(): Promise<void> }> {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  for (const [page, other] of [
    [a, b],
    [b, a],
  ] as const) {
    await page.exposeFunction('sendIce', (c: RTCIceCandidateInit) =>
      other.evaluate((c) => (window as unknown as PairWindow).pc.addIceCandidate(c), c).catch(() => undefined),
    );
    await page.evaluate(() => {
      const w = window as unknown as PairWindow;
      w.pc = new RTCPeerConnection();
      w.received = 0;
      w.echo = false;
      w.pc.onicecandidate = (e) => e.candidate && w.sendIce(e.candidate.toJSON());
    });
  }
  const offer = await a.evaluate(async () => {
    const w = window as unknown as PairWindow;
    w.dc = w.pc.createDataChannel('bench');
    w.dc.binaryType = 'arraybuffer';
    await w.pc.setLocalDescription();
    return w.pc.localDescription!.sdp;
  });
  const answer = await b.evaluate(async (sdp) => {
    const w = window as unknown as PairWindow;
    w.pc.ondatachannel = (e) => {
      w.dc = e.channel;
      w.dc.binaryType = 'arraybuffer';
      w.dc.onmessage = (m: MessageEvent<ArrayBuffer>) => {
        w.received += m.data.byteLength;
        if (w.echo) w.dc.send(m.data);
      };
    };
    await w.pc.setRemoteDescription({ type: 'offer', sdp });
    await w.pc.setLocalDescription();
    return w.pc.localDescription!.sdp;
  }, offer);
  await a.evaluate((sdp) => (window as unknown as PairWindow).pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  await a.waitForFunction(() => (window as unknown as PairWindow).dc.readyState === 'open', undefined, { timeout: 30_000 });
  await b.waitForFunction(() => (window as unknown as PairWindow).dc?.readyState === 'open', undefined, { timeout: 30_000 });
  return {
    a,
    b,
    async close() {
      await a.context().close();
      await b.context().close();
    },
  };
}

/** `transfers` transfers of `bytes` from one page to the other, then `keystrokes` round trips. */
export async function chromiumPair(transfers: number, bytes: number, keystrokes: number, browser?: Browser): Promise<ChromiumPairResult> {
  const ownBrowser = browser ? undefined : await launchChromium();
  const { a, b, close } = await pair(browser ?? ownBrowser!);
  try {
    const samples: number[] = [];
    for (let i = 0; i < transfers; i++) {
      await b.evaluate(() => void ((window as unknown as PairWindow).received = 0));
      const t0 = performance.now();
      await a.evaluate(
        async ({ bytes, frameBytes, high, low }) => {
          const dc = (window as unknown as PairWindow).dc;
          const frame = new Uint8Array(frameBytes).fill(0x61);
          dc.bufferedAmountLowThreshold = low;
          let sent = 0;
          while (sent < bytes) {
            if (dc.bufferedAmount > high) {
              await new Promise((resolve) => (dc.onbufferedamountlow = resolve));
              continue;
            }
            const n = Math.min(frame.length, bytes - sent);
            dc.send(n === frame.length ? frame : frame.subarray(0, n));
            sent += n;
          }
        },
        { bytes, frameBytes: Math.min(MAX_FRAME_BYTES, 64 * 1024), high: CHANNEL_BUFFER_HIGH_BYTES, low: CHANNEL_BUFFER_LOW_BYTES },
      );
      await b.waitForFunction((bytes) => (window as unknown as PairWindow).received >= bytes, bytes, { timeout: 120_000, polling: 20 });
      samples.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
    }
    await b.evaluate(() => void ((window as unknown as PairWindow).echo = true));
    const trips = (await a.evaluate(pageEcho, keystrokes)).slice(Math.floor(keystrokes / 10));
    return {
      mbps: round(percentile(samples, 50), 2),
      samples: samples.map((v) => round(v, 2)),
      echoP50Ms: round(percentile(trips, 50), 2),
      echoP99Ms: round(percentile(trips, 99), 2),
    };
  } finally {
    await close();
    await ownBrowser?.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await chromiumPair(
    Number(process.argv[2] ?? 3),
    Number(process.argv[3] ?? 32) * 1024 * 1024,
    Number(process.argv[4] ?? 1000),
  );
  console.log(JSON.stringify(result));
}
