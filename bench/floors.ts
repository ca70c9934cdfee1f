/**
 * The floors of issue 18's goals on this machine, measured in the bench's own run: what a data
 * channel with Chromium at one end costs and reaches when the other end is not Tether's agent.
 *
 * - Chromium ↔ Chromium (bench/chromium-pair.ts): two pages, nothing of Tether or werift on the path.
 * - libdatachannel → Chromium (bench/native-sender.ts): a native peer (C++) in werift's place.
 * - werift → Chromium (bench/werift-sender.ts): the agent's werift alone, no session or Docker.
 *
 * The same transfers (64 KiB frames under the agent's watermarks) and the same single-byte round
 * trips for all three, one after another in one browser. A goal below what Chromium reaches with
 * itself, or what a native peer costs, is out of reach of any change to the agent alone.
 *
 *   node --conditions=source --import tsx bench/floors.ts
 */
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../harness/browser.js';
import { chromiumPair } from './chromium-pair.js';
import { channelEcho, weriftToChromium, type Sender } from './werift-chromium.js';

const TRANSFERS = 3;
const TRANSFER_BYTES = 32 * 1024 * 1024;
const KEYSTROKES = 1000;

export type Floors = Record<string, number | null>;

export async function measureFloors(onError: (label: string, error: unknown) => void = () => undefined): Promise<Floors> {
  const browser = await launchChromium();
  const out: Floors = {};
  const attempt = async <T>(label: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (error) {
      onError(label, error);
      return undefined;
    }
  };
  try {
    const pair = await attempt('floors: Chromium ↔ Chromium', () => chromiumPair(TRANSFERS, TRANSFER_BYTES, KEYSTROKES, browser));
    out.floorChromiumPairMBps = pair?.mbps ?? null;
    out.floorChromiumPairEchoP50Ms = pair?.echoP50Ms ?? null;
    out.floorChromiumPairEchoP99Ms = pair?.echoP99Ms ?? null;
    for (const [sender, name] of [
      ['native', 'NativePeer'],
      ['werift', 'Werift'],
    ] as Array<[Sender, string]>) {
      const transfer = await attempt(`floors: ${sender} → Chromium`, () =>
        weriftToChromium(TRANSFERS, TRANSFER_BYTES, browser, { sender }),
      );
      out[`floor${name}MBps`] = transfer?.mbps ?? null;
      out[`floor${name}CpuMsPerMB`] = transfer?.senderCpuMsPerMB ?? null;
      const echo = await attempt(`floors: ${sender} echo`, () => channelEcho(KEYSTROKES, sender, browser));
      out[`floor${name}EchoP50Ms`] = echo?.p50Ms ?? null;
      out[`floor${name}EchoP99Ms`] = echo?.p99Ms ?? null;
      out[`floor${name}CpuMsPerEcho`] = echo?.peerCpuMsPerEcho ?? null;
    }
  } finally {
    await browser.close();
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify(await measureFloors((label, error) => console.error(`${label}: ${String(error)}`)), null, 2));
}
