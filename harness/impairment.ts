/**
 * Faults on a test network's links, applied in the router namespace. This kernel has no sch_netem
 * (`tc qdisc add … netem` fails with "Specified qdisc kind is unknown"), so:
 *
 * - cut: the link's router-side interface goes down (`ip link set down`): nothing passes either way;
 * - loss: `iptables -m statistic --mode random --probability p -j DROP`, each direction on its own;
 * - delay: `-j NFQUEUE` to nfq-delay (nfq-delay.c, compiled here against libnetfilter-queue), a
 *   userspace program that holds each packet `delayMs` before accepting it, in arrival order.
 *   Each direction is delayed, so a round trip across the link grows by twice `delayMs`.
 *
 * - stalled data: `iptables -m u32` drops every UDP datagram that starts with 23, a DTLS
 *   application-data record, which is what carries SCTP. STUN (ICE's checks) and the DTLS
 *   handshake pass, so a peer connection stays ICE-`connected` while its data channels hear
 *   nothing: what a wedged SCTP association looks like from outside.
 *
 * Loss is decided before the delay: a dropped packet never waits in the queue.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sh, type TestNetwork } from './netns.js';

const source = fileURLToPath(new URL('./nfq-delay.c', import.meta.url));
const buildDir = fileURLToPath(new URL('../test-results/bin/', import.meta.url));
const binary = `${buildDir}nfq-delay`;

export interface Impairment {
  /** share of packets dropped, 0..100, in each direction */
  lossPercent?: number;
  /** added to each packet, each direction, in milliseconds */
  delayMs?: number;
  /** drop DTLS application data (SCTP), both directions, and let STUN and DTLS handshakes through */
  stallData?: boolean;
}

/** IP header length from byte 0, then the UDP payload's first byte: DTLS content type 23. */
const DTLS_APPLICATION_DATA = '0>>22&0x3C@8>>24=23';

/** Compiles nfq-delay when the binary is missing or older than its source; throws with gcc's output. */
export function ensureDelayerBuilt(): string {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(buildDir, { recursive: true });
  // Built under a name of its own, then renamed: test files that run in parallel may build it at
  // the same time, and none may run a half-written binary.
  const temp = `${binary}.${process.pid}.tmp`;
  const result = spawnSync('gcc', ['-O2', '-Wall', '-o', temp, source, '-lnetfilter_queue', '-lnfnetlink'], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `cannot build nfq-delay (needs gcc and libnetfilter-queue-dev; scripts/setup-debian.sh installs them): ${result.stderr || result.error?.message}`,
    );
  }
  renameSync(temp, binary);
  return binary;
}

interface LinkState {
  chain: string;
  queue: number;
  delayer?: ChildProcess;
}

export class Impairments {
  private readonly links = new Map<string, LinkState>();

  constructor(private readonly net: TestNetwork) {}

  private iptables(...args: string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', this.net.router, 'iptables', '-w', ...args]);
  }

  /** The link's own chain, jumped to from `tether-impair` for packets in and out of its interface. */
  private async link(host: string): Promise<LinkState> {
    const existing = this.links.get(host);
    if (existing) return existing;
    const iface = this.net.host(host).routerInterface;
    const state: LinkState = { chain: `tether-${host}`, queue: this.links.size + 1 };
    await this.iptables('-N', state.chain);
    await this.iptables('-A', 'tether-impair', '-i', iface, '-j', state.chain);
    await this.iptables('-A', 'tether-impair', '-o', iface, '-j', state.chain);
    this.links.set(host, state);
    return state;
  }

  async cut(host: string): Promise<void> {
    await sh('ip', ['-n', this.net.router, 'link', 'set', this.net.host(host).routerInterface, 'down']);
  }

  /**
   * The link up again, with no loss and no delay; resolves once both ends say `state UP`. The
   * kernel starts an interface's queue when it marks it up, up to a second after its carrier came
   * back (linkwatch), and drops what is sent before: a probe sent at once could lose everything.
   */
  async restore(host: string): Promise<void> {
    const { ns, routerInterface } = this.net.host(host);
    await sh('ip', ['-n', this.net.router, 'link', 'set', routerInterface, 'up']);
    const deadline = Date.now() + 10_000;
    for (const [where, dev] of [
      [this.net.router, routerInterface],
      [ns, 'eth0'],
    ] as const) {
      while (!/ state UP /.test(await sh('ip', ['-n', where, '-o', 'link', 'show', 'dev', dev]))) {
        if (Date.now() > deadline) throw new Error(`the link of ${host} (${dev} in ${where}) did not come up within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const state = this.links.get(host);
    if (state) await this.clear(state);
  }

  /** Replaces the link's loss and delay with these (`{}` clears them). */
  async impair(host: string, impairment: Impairment): Promise<void> {
    const loss = impairment.lossPercent ?? 0;
    const delay = impairment.delayMs ?? 0;
    if (!(loss >= 0 && loss <= 100) || !(delay >= 0 && delay <= 60_000))
      throw new RangeError(`bad impairment ${JSON.stringify(impairment)}`);
    const state = await this.link(host);
    await this.clear(state);
    if (impairment.stallData) {
      await this.iptables('-A', state.chain, '-p', 'udp', '-m', 'u32', '--u32', DTLS_APPLICATION_DATA, '-j', 'DROP');
    }
    if (loss > 0) {
      await this.iptables('-A', state.chain, '-m', 'statistic', '--mode', 'random', '--probability', String(loss / 100), '-j', 'DROP');
    }
    if (delay > 0) {
      state.delayer = await this.startDelayer(state.queue, delay);
      // No --queue-bypass: if the delayer dies, the link stops, and the test sees it rather than
      // passing over an undelayed link.
      await this.iptables('-A', state.chain, '-j', 'NFQUEUE', '--queue-num', String(state.queue));
    }
  }

  private async clear(state: LinkState): Promise<void> {
    await this.iptables('-F', state.chain);
    const delayer = state.delayer;
    state.delayer = undefined;
    if (delayer && delayer.exitCode === null && delayer.signalCode === null) {
      const gone = new Promise((resolve) => delayer.once('exit', resolve));
      delayer.kill('SIGTERM');
      await gone;
    }
  }

  private async startDelayer(queue: number, delayMs: number): Promise<ChildProcess> {
    const child = this.net.spawn('router', ensureDelayerBuilt(), [String(queue), String(delayMs)]);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 4096) stderr = stderr.slice(-4096);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nfq-delay did not start within 5 s: ${stderr}`)), 5000);
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nfq-delay exited with ${code}: ${stderr}`));
      });
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGTERM' && signal !== 'SIGKILL') console.error(`nfq-delay for queue ${queue} exited (${code}): ${stderr}`);
    });
    return child;
  }

  /** Stops every delayer; the rules go with the router namespace. */
  async close(): Promise<void> {
    for (const state of this.links.values()) {
      const delayer = state.delayer;
      state.delayer = undefined;
      if (delayer && delayer.exitCode === null && delayer.signalCode === null) delayer.kill('SIGKILL');
    }
  }
}
