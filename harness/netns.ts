/**
 * A small network built from Linux network namespaces for one test run: a router namespace and one
 * namespace per host, each host on its own veth link to the router (10.99.<n>.2/24, router .1).
 * Hosts marked `behindNat` reach the others through the router's source NAT, each with a public
 * address of its own (10.98.0.<n + 10>, as two sites have two different public addresses), and
 * cannot be reached from outside, as behind a home or plant NAT: two NATed hosts then have no
 * direct path between them. Links can be cut, and impaired with loss and delay (impairment.ts). `close()` removes every
 * namespace, which also ends the interfaces and firewall rules inside them.
 *
 * Names carry a random run id (`tn<6 hex>-<host>`), so parallel runs never share a namespace.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Impairments, type Impairment } from './impairment.js';

const run = promisify(execFile);

/**
 * One file per live test network: the pid that made it and its namespaces. A run that was killed
 * (SIGKILL, a crash) cannot clean up; the next `create` removes the namespaces of dead owners only.
 */
const OWNERS_DIR = join(tmpdir(), 'tether-test-netns');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function removeAbandonedNetworks(): Promise<void> {
  let files: string[];
  try {
    files = readdirSync(OWNERS_DIR);
  } catch {
    return; // no network was ever made on this machine
  }
  for (const file of files) {
    const path = join(OWNERS_DIR, file);
    let owner: { pid: number; namespaces: string[] };
    try {
      owner = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; namespaces: string[] };
    } catch (error) {
      console.error(`test network owner file ${path} unreadable, left alone: ${String(error)}`);
      continue;
    }
    if (pidAlive(owner.pid)) continue;
    for (const ns of owner.namespaces) {
      await sh('ip', ['netns', 'delete', ns]).catch((error: unknown) => console.error(`abandoned namespace ${ns}: ${String(error)}`));
    }
    rmSync(path, { force: true });
  }
}

export interface HostSpec {
  /** short name: letters and digits, at most 8 characters (it is part of interface names) */
  name: string;
  /** reaches the other hosts through the router's NAT; nothing can open a connection to it */
  behindNat?: boolean;
}

export interface NetworkHost {
  name: string;
  /** the namespace, for `ip netns exec` */
  ns: string;
  /** the host's address on its link */
  address: string;
  /** the router's address on that link (the host's default gateway) */
  gateway: string;
  /** the router-side interface of the link, in the router namespace */
  routerInterface: string;
  /** the address the others see this host's connections come from: its NAT address, or `address` */
  publicAddress: string;
}

/** Runs a command and returns its stdout; the error says which command failed and its stderr. */
export async function sh(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, [...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

export class TestNetwork {
  readonly runId: string;
  readonly router: string;
  readonly impairments: Impairments;
  private readonly hostsByName = new Map<string, NetworkHost>();
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly tempDir: string;
  private closed = false;

  private constructor() {
    this.runId = randomBytes(3).toString('hex');
    this.router = `tn${this.runId}-router`;
    this.tempDir = mkdtempSync(join(tmpdir(), `tn${this.runId}-`));
    this.impairments = new Impairments(this);
  }

  /** Builds the namespaces, links, addresses, routes and NAT rules; tears down what it made if a step fails. */
  static async create(hosts: readonly HostSpec[]): Promise<TestNetwork> {
    await removeAbandonedNetworks();
    const net = new TestNetwork();
    try {
      await net.build(hosts);
    } catch (error) {
      await net.close();
      throw error;
    }
    return net;
  }

  host(name: string): NetworkHost {
    const host = this.hostsByName.get(name);
    if (!host) throw new Error(`no host ${name} in this test network`);
    return host;
  }

  /** A folder of this run, removed by `close()`. */
  get dir(): string {
    return this.tempDir;
  }

  private async build(hosts: readonly HostSpec[]): Promise<void> {
    await this.addNamespace(this.router);
    await sh('ip', ['netns', 'exec', this.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const nat: NetworkHost[] = [];
    for (const [index, spec] of hosts.entries()) {
      if (!/^[a-z0-9]{1,8}$/.test(spec.name)) throw new Error(`host name ${spec.name}: 1..8 lower-case letters and digits`);
      const ns = `tn${this.runId}-${spec.name}`;
      await this.addNamespace(ns);
      const routerInterface = `v-${spec.name}`;
      const subnet = `10.99.${index}`;
      const publicAddress = spec.behindNat ? `10.98.0.${index + 10}` : `${subnet}.2`;
      const host: NetworkHost = { name: spec.name, ns, address: `${subnet}.2`, gateway: `${subnet}.1`, routerInterface, publicAddress };
      // Created directly in their namespaces: the names never exist in the shared root namespace.
      await sh('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', routerInterface, 'netns', this.router]);
      await sh('ip', ['-n', this.router, 'addr', 'add', `${host.gateway}/24`, 'dev', routerInterface]);
      await sh('ip', ['-n', this.router, 'link', 'set', routerInterface, 'up']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', host.gateway]);
      this.hostsByName.set(spec.name, host);
      if (spec.behindNat) nat.push(host);
    }
    const ipt = (...args: string[]) => sh('ip', ['netns', 'exec', this.router, 'iptables', '-w', ...args]);
    // The impairment chain sees every forwarded packet first; it is empty until a test impairs a link.
    await ipt('-N', 'tether-impair');
    await ipt('-A', 'FORWARD', '-j', 'tether-impair');
    await ipt('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    for (const host of nat) {
      await ipt('-A', 'FORWARD', '-o', host.routerInterface, '-j', 'DROP');
      // The public address lives on the router's loopback: every host routes to it via its gateway.
      await sh('ip', ['-n', this.router, 'addr', 'add', `${host.publicAddress}/32`, 'dev', 'lo']);
      await ipt(
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-s',
        `${host.address}/32`,
        '!',
        '-o',
        host.routerInterface,
        '-j',
        'SNAT',
        '--to-source',
        host.publicAddress,
      );
    }
  }

  private get ownerFile(): string {
    return join(OWNERS_DIR, this.runId);
  }

  private async addNamespace(ns: string): Promise<void> {
    // Recorded before it exists, so a run killed right after `ip netns add` leaves nothing behind.
    this.namespaces.push(ns);
    mkdirSync(OWNERS_DIR, { recursive: true });
    writeFileSync(this.ownerFile, JSON.stringify({ pid: process.pid, namespaces: this.namespaces }));
    try {
      await sh('ip', ['netns', 'add', ns]);
    } catch (error) {
      // Not ours (a name taken, however unlikely): never delete it.
      this.namespaces.pop();
      writeFileSync(this.ownerFile, JSON.stringify({ pid: process.pid, namespaces: this.namespaces }));
      throw error;
    }
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** Starts `command` inside the host's namespace (or the router's); killed by `close()` if still running. */
  spawn(host: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const ns = host === 'router' ? this.router : this.host(host).ns;
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs a command in the host's namespace to its end; its stdout. */
  exec(host: string, command: string, args: readonly string[]): Promise<string> {
    const ns = host === 'router' ? this.router : this.host(host).ns;
    return sh('ip', ['netns', 'exec', ns, command, ...args]);
  }

  /**
   * An executable that runs `target` inside the host's namespace with the arguments it is given:
   * for Playwright's `executablePath`, which talks to Chromium over a pipe and not the network.
   */
  wrapperExecutable(host: string, target: string): string {
    const path = join(this.tempDir, `in-${host}-${target.split('/').pop() ?? 'exe'}`);
    writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${this.host(host).ns} ${target} "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  }

  /**
   * A path MTU black hole on the host's link, as a VPN or tunnel whose firewall filters ICMP makes
   * one: the router forwards to and from the host only IP packets of at most `mtu` bytes and sends
   * no ICMP "fragmentation needed" for those it drops. TCP's segments are kept within it by MSS
   * clamping, as such gateways do, so TCP (signaling) works; a UDP datagram over it is lost, and
   * its sender is never told why.
   */
  async blackHoleMtu(host: string, mtu: number): Promise<void> {
    const { routerInterface } = this.host(host);
    const ipt = (...args: string[]) => sh('ip', ['netns', 'exec', this.router, 'iptables', '-w', ...args]);
    // To the host: past its link's MTU (the router would answer with ICMP, dropped below). From it:
    // the router's other links keep 1500, so its packets past `mtu` are dropped here.
    await sh('ip', ['-n', this.router, 'link', 'set', routerInterface, 'mtu', String(mtu)]);
    await ipt('-I', 'FORWARD', '-i', routerInterface, '-m', 'length', '--length', `${mtu + 1}:65535`, '-j', 'DROP');
    await ipt('-I', 'OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP');
    for (const direction of ['-i', '-o'])
      await ipt(
        '-t',
        'mangle',
        '-I',
        'FORWARD',
        direction,
        routerInterface,
        '-p',
        'tcp',
        '--tcp-flags',
        'SYN,RST',
        'SYN',
        '-j',
        'TCPMSS',
        '--set-mss',
        String(mtu - 40),
      );
  }

  /** Takes the host's link down at the router: nothing passes either way until `restore`. */
  cut(host: string): Promise<void> {
    return this.impairments.cut(host);
  }

  /** Brings a cut link back and removes its loss and delay. */
  restore(host: string): Promise<void> {
    return this.impairments.restore(host);
  }

  /** Loss and delay on the host's link, both directions (see impairment.ts). */
  impair(host: string, impairment: Impairment): Promise<void> {
    return this.impairments.impair(host, impairment);
  }

  /** Kills what it started, stops the delayers, deletes every namespace of this run. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const problems: string[] = [];
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await this.impairments.close().catch((error: unknown) => problems.push(String(error)));
    for (const ns of [...this.namespaces].reverse()) {
      await sh('ip', ['netns', 'delete', ns]).catch((error: unknown) => problems.push(String(error)));
    }
    rmSync(this.ownerFile, { force: true });
    rmSync(this.tempDir, { recursive: true, force: true });
    if (problems.length > 0) console.error(`test network ${this.runId} teardown: ${problems.join('; ')}`);
  }
}
