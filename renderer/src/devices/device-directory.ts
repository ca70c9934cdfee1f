/**
 * Every agent the console knows: online ones from presence (applied as the server's diffs say,
 * entry by entry, and connected as soon as they come online while the fleet is small), paired ones (reached over their LAN endpoint when the signaling server does not list
 * them), offline ones remembered through the host API; one peer connection per agent, made
 * again when it fails (quickly while the agent keeps shells of its tabs), its targets kept live by asking `list-targets` every few seconds (and taking any `targets` the agent
 * pushes), and its network path read from getStats.
 */
import { remove as removeConfusables } from 'confusables';
import type { AgentInfo, PresenceChange } from '@tether/protocol';
import { AgentConnection, type AgentConnectionOptions } from '../connection/agent-connection';
import type { NegotiationTransport } from '../connection/negotiation-transport';
import { connectionIsOver, newAgentRecord, type AgentRecord, type PairingWarning } from './agent-record';
import { dotOf, type DeviceEntry } from './device-panel';

/** The order of the side panel: what is in use first, then what needs a look, then the rest. */
const STATE_ORDER: readonly ReturnType<typeof dotOf>[] = ['connected', 'reconnecting', 'connecting', 'failed', 'online', 'offline'];
import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import type { KnownAgent, TetherApi } from '../host/host';
import { LanPath } from '../connection/lan-path';
import type { LanSignaling } from '../connection/lan-signaling';
import type { CloudSignaling } from '../connection/cloud-signaling';
import type { ConsoleIdentity } from '../trust/console-identity';
import type { PairedAgentRecord } from '../trust/trust-store';
import { RESUME_CONNECT_TIMEOUT_MS, resumeBackoffMs, setupTimeoutMs, type ReconnectState } from '../connection/reconnect-policy';

/** How often a connected agent is asked for its targets: the agent does not push changes yet. */
export const TARGET_POLL_MS = 3_000;
/** How often the network path and round-trip time are read from getStats. */
export const PATH_POLL_MS = 2_000;
/** A connection not ready by then is reported as failed (and retried while the agent is online). */
export const CONSOLE_CONNECT_TIMEOUT_MS = 15_000;

/**
 * Agents that come online are connected at once while the server lists at most this many; in a
 * larger fleet the console connects an agent when the user asks (Connect, or a container's tab),
 * rather than open thousands of peer connections nobody looks at.
 */
export const AUTO_CONNECT_MAX_AGENTS = 25;
/** The known agents are saved to the host at most this often (a fleet's presence changes often). */
export const KNOWN_AGENTS_SAVE_MS = 5_000;

/** How long tabs on an agent can still resume their shells after a loss (the longest grace), 0 for none. */
export type ResumeGraceFor = (agentId: string) => number;

/** Refusals that another try cannot fix: the user must act (pair again, check the network). */
const NO_RETRY = new Set(['NOT_PAIRED', 'FINGERPRINT_MISMATCH', 'PAIRING_INVALID']);

/**
 * How the directory's connections reach agents. The product uses the browser's peer connection
 * and the signaling path as chosen; the test hooks put a network in between that can cut a path
 * (test-hooks.ts).
 */
export interface AgentNetwork {
  peerConnection(config: RTCConfiguration, negotiationId: string): RTCPeerConnection;
  signalingPath(path: NegotiationTransport): NegotiationTransport;
}

export interface DeviceDirectoryOptions {
  /** the cloud signaling server; none in a LAN-only console */
  signaling: CloudSignaling | undefined;
  host: TetherApi;
  /** the ICE servers the user configured */
  iceServers: RTCIceServer[];
  identity: ConsoleIdentity;
  paired: readonly PairedAgentRecord[];
  resumeGraceFor?: ResumeGraceFor;
  network?: AgentNetwork;
  /** keeps a paired agent's record after the agent said, over its pinned channel, that its name changed */
  savePaired?: (record: PairedAgentRecord) => Promise<void>;
}

/** Names as read, kept: a fleet's list asks for 10,000 of them at each render (~8 ms to compute). */
const namesRead = new Map<string, string>();

/**
 * A name as a person reads it: case, spacing, compatibility forms, invisible characters and letters
 * of other scripts that look like Latin ones (Cyrillic а, Greek Ρ: the `confusables` package) do not
 * tell two agents apart.
 */
function readAs(name: string): string {
  let read = namesRead.get(name);
  if (read === undefined) {
    if (namesRead.size >= 50_000) namesRead.clear();
    read = removeConfusables(name.normalize('NFKC')).trim().replace(/\s+/g, ' ').toLowerCase();
    namesRead.set(name, read);
  }
  return read;
}

export class DeviceDirectory implements Disposable {
  private readonly records = new Map<string, AgentRecord>();
  /** sockets authenticated by a pairing, waiting for the agent's first connection */
  private readonly adopted = new Map<string, LanSignaling>();
  private readonly store = new DisposableStore();
  private readonly changeEmitter = new Emitter<void>();
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  readonly onChange = this.changeEmitter.event;

  private readonly signaling: CloudSignaling | undefined;
  private readonly host: TetherApi;
  private readonly iceServers: RTCIceServer[];
  private readonly identity: ConsoleIdentity;
  private readonly network: AgentNetwork | undefined;
  private readonly resumeGraceFor: ResumeGraceFor;
  private readonly savePaired: ((record: PairedAgentRecord) => Promise<void>) | undefined;

  constructor(options: DeviceDirectoryOptions) {
    const { signaling, host } = options;
    this.signaling = signaling;
    this.host = host;
    this.iceServers = options.iceServers;
    this.identity = options.identity;
    this.network = options.network;
    this.resumeGraceFor = options.resumeGraceFor ?? (() => 0);
    this.savePaired = options.savePaired;
    if (signaling) this.store.add(signaling.onPresence((change) => this.presence(change)));
    // Whether an agent off the list is offline or only not known depends on the server answering.
    if (signaling) this.store.add(signaling.onState(() => this.changed()));
    for (const agent of options.paired) this.addPaired(agent);
    const targetTimer = setInterval(() => this.pollTargets(), TARGET_POLL_MS);
    const pathTimer = setInterval(() => void this.pollPaths(), PATH_POLL_MS);
    this.store.add({ dispose: () => (clearInterval(targetTimer), clearInterval(pathTimer)) });
    void host.knownAgents.list().then(
      (known) => this.remember(known),
      (error: unknown) => console.warn(`[agents] known agents not loaded: ${String(error)}`),
    );
  }

  get(agentId: string): AgentRecord | undefined {
    return this.records.get(agentId);
  }

  connection(agentId: string): AgentConnection | undefined {
    return this.records.get(agentId)?.connection;
  }

  /**
   * What must be said before connecting to the agent; undefined for a paired agent, and for every
   * agent while the console has paired with none (it then trusts the signaling server, as the agent
   * with `--require-pairing auto` and no console enrolled does).
   */
  pairingWarning(agentId: string, pairedNames = this.pairedNames()): PairingWarning | undefined {
    const record = this.records.get(agentId);
    if (!record || record.paired || pairedNames.size === 0) return undefined;
    const twin = pairedNames.get(readAs(record.name));
    return twin === undefined ? { kind: 'unpaired' } : { kind: 'impostor', pairedName: twin };
  }

  /** The user chose to connect to this unpaired agent anyway: not asked again, and connected again like the others, this run. */
  trustUnpaired(agentId: string): void {
    const record = this.records.get(agentId);
    if (record) record.serverTrusted = true;
  }

  /** Whether connecting to the agent needs the user's word first (pairingWarning, not yet given). */
  needsConsent(agentId: string, pairedNames = this.pairedNames()): boolean {
    return this.pairingWarning(agentId, pairedNames) !== undefined && this.records.get(agentId)?.serverTrusted !== true;
  }

  /**
   * The names of the paired agents, as read, to the name shown: the name the agent had at pairing
   * (the signaling server's presence may rename an agent, so a relay could give a paired agent's
   * name to one of its own, and another to the paired one) and the name shown now.
   */
  private pairedNames(): Map<string, string> {
    const names = new Map<string, string>();
    for (const record of this.records.values()) {
      if (!record.paired) continue;
      names.set(readAs(record.paired.name), record.paired.name);
      names.set(readAs(record.name), record.paired.name);
    }
    return names;
  }

  /** The live connection to the agent, or a new one; throws when the agent is not online. */
  connect(agentId: string): AgentConnection {
    const record = this.records.get(agentId);
    if (!record?.online) throw new Error(`agent ${record?.name ?? agentId} is not online`);
    record.heldOff = false;
    const existing = record.connection;
    if (existing && !connectionIsOver(record)) return existing;
    this.dropConnection(record);
    const store = new DisposableStore();
    const connection = this.newConnection(record, store);
    record.connection = connection;
    record.connectionStore = store;
    store.add(
      connection.onStage((stage) => {
        if (stage.kind === 'ready') {
          this.authenticatedName(record, connection.hello?.peer.name);
          record.failures = 0;
          record.setupTimeouts = 0;
          record.reconnect = undefined;
        }
        if (stage.kind === 'failed') {
          if (connection.setupTimedOut) record.setupTimeouts += 1;
          const what = connection.wasReady
            ? 'connection lost'
            : record.reconnect
              ? `reconnection attempt ${record.reconnect.attempt} failed`
              : 'connection failed';
          console.warn(`[agent ${agentId}] ${what}: ${stage.reason}`);
        }
        if (stage.kind === 'failed' || stage.kind === 'closed') record.path = undefined;
        if (stage.kind === 'failed' && !NO_RETRY.has(stage.code ?? '')) {
          if (!record.reconnect && connection.wasReady && !record.heldOff) this.startReconnect(record);
          if (record.reconnect) {
            record.reconnect.lastError = stage.reason;
            this.resumeAttempt(record);
          } else this.retry(record);
        }
        this.changed();
      }),
    );
    store.add(
      connection.onTargets((targets) => {
        record.targets = targets;
        record.targetsKnown = true;
        record.engineProblem = undefined;
        this.changed();
      }),
    );
    store.add(connection.onUnanswered(() => this.changed()));
    store.add(
      connection.onError((error) => {
        console.warn(`[agent ${agentId}] ${error.code}: ${error.message}`);
        // The agent cannot list its containers: the last list's states are no longer known.
        if (error.code !== 'DOCKER_UNAVAILABLE') return;
        record.engineProblem = error.message;
        record.targets = record.targets.map((t) => ({ ...t, state: 'unknown' }));
        this.changed();
      }),
    );
    void connection.connect();
    this.changed();
    return connection;
  }

  /** A fresh connection outside the directory, that the caller connects and disposes (bench; cloud path only). */
  createConnection(agentId: string): AgentConnection {
    const agent = this.signaling?.agents.get(agentId);
    if (!agent || !this.signaling) throw new Error(`agent ${agentId} is not online`);
    const paired = this.records.get(agentId)?.paired;
    return this.newAgentConnection(agent, this.signaling, {
      iceServers: this.cloudIceServers(),
      connectTimeoutMs: CONSOLE_CONNECT_TIMEOUT_MS,
      identity: this.identity,
      ...(paired ? { paired } : {}),
    });
  }

  /**
   * A paired agent joins the list (at start, or just paired: then `signaling` is the socket the
   * pairing authenticated, used for the first connection) and is connected.
   */
  addPaired(agent: PairedAgentRecord, signaling?: LanSignaling): void {
    const record = this.records.get(agent.agentId) ?? this.newRecord(agent.agentId, agent.name);
    record.paired = agent;
    record.name = agent.name;
    record.online = record.inPresence || agent.endpoints.length > 0;
    record.failures = 0;
    if (signaling) {
      this.dropConnection(record);
      this.adopted.set(agent.agentId, signaling);
    }
    if (record.online && !record.heldOff) this.connect(agent.agentId);
    else signaling?.dispose();
    this.changed();
  }

  /** Where a lost connection's re-establishment stands; undefined when none is going on. */
  reconnectState(agentId: string): ReconnectState | undefined {
    const reconnect = this.records.get(agentId)?.reconnect;
    return reconnect ? { ...reconnect } : undefined;
  }

  disconnect(agentId: string): void {
    const record = this.records.get(agentId);
    if (record) {
      record.heldOff = true;
      record.reconnect = undefined;
      this.dropConnection(record);
    }
    this.changed();
  }

  pairedAgents(): PairedAgentRecord[] {
    return [...this.records.values()].flatMap((r) => (r.paired ? [r.paired] : []));
  }

  /** Every known agent for the device list: online first, then by name (a plain comparison: a fleet's list is sorted at each render). */
  /**
   * The list as the side panel shows it, sorted by state (connected, reconnecting, connecting,
   * failed, online, offline; by name within each), with the tabs open on each agent: `openTabs`
   * gives the targets (name or id, as the tab was opened) of its tabs and how many of them run.
   */
  entries(openTabs: (agentId: string) => { running: number; targets: readonly string[] }): DeviceEntry[] {
    const pairedNames = this.pairedNames();
    return [...this.records.values()]
      .map((r): DeviceEntry => {
        const open = openTabs(r.agentId);
        return {
          agentId: r.agentId,
          name: r.name,
          version: r.version,
          online: r.online,
          stage: r.connection?.stage ?? { kind: 'idle' },
          targets: r.targets,
          targetsKnown: r.targetsKnown,
          path: r.path,
          openTabs: open.running,
          openTargets: open.targets,
          paired: r.paired !== undefined,
          route: r.connection?.path ?? (r.inPresence ? 'cloud' : r.paired?.endpoints.length ? 'lan' : undefined),
          reconnectAttempt: r.reconnect?.attempt,
          unansweredMs: r.connection?.unansweredMs,
          pairingWarning: this.pairingWarning(r.agentId, pairedNames),
          engineProblem: r.engineProblem,
          presenceUnknown: !r.online && this.signaling !== undefined && this.signaling.state.kind !== 'connected',
          listedAs: r.paired && r.inPresence && r.presenceName !== undefined && r.presenceName !== r.name ? r.presenceName : undefined,
        };
      })
      .map((entry) => ({ entry, key: `${STATE_ORDER.indexOf(dotOf(entry))}${entry.name.toLowerCase()}\u0000${entry.agentId}` }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(({ entry }) => entry);
  }

  dispose(): void {
    clearTimeout(this.saveTimer);
    for (const record of this.records.values()) this.dropConnection(record);
    for (const signaling of this.adopted.values()) signaling.dispose();
    this.adopted.clear();
    this.store.dispose();
    this.changeEmitter.dispose();
  }

  /** Applies what the server's presence changed: work in proportion to the change, not to the fleet. */
  private presence(change: PresenceChange): void {
    for (const agentId of change.leaves) {
      const record = this.records.get(agentId);
      if (!record) continue;
      record.inPresence = false;
      record.online = (record.paired?.endpoints.length ?? 0) > 0;
      // Gone from the server: most likely gone altogether (killed, host down). Asked now, not after the keepalive's timeout.
      record.connection?.probe();
    }
    const cameOnline: string[] = [];
    const pairedNames = this.pairedNames();
    const small = (this.signaling?.agents.size ?? 0) <= AUTO_CONNECT_MAX_AGENTS;
    for (const agent of change.joins) {
      const record = this.records.get(agent.agentId) ?? this.newRecord(agent.agentId, agent.name);
      record.presenceName = agent.name;
      // A paired agent keeps the name it authenticated: the server's is only shown beside it.
      if (!record.paired) record.name = agent.name;
      record.version = agent.version;
      record.online = true;
      record.inPresence = true;
      // In a large fleet an agent the user already connected to is still connected again; an
      // unpaired one in a console that pairs only once the user has said so (pairingWarning).
      if (connectionIsOver(record) && !record.heldOff && (small || record.connection) && !this.needsConsent(agent.agentId, pairedNames))
        cameOnline.push(agent.agentId);
    }
    for (const agentId of cameOnline) this.connect(agentId);
    this.changed();
    this.saveKnownSoon();
  }

  /** Saves the known agents once the presence has been quiet for a moment, at most every KNOWN_AGENTS_SAVE_MS. */
  private saveKnownSoon(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      const known: KnownAgent[] = [...this.records.values()].map((r) => ({ agentId: r.agentId, name: r.name, lastSeen: Date.now() }));
      this.host.knownAgents.save(known).catch((error: unknown) => console.warn(`[agents] known agents not saved: ${String(error)}`));
    }, KNOWN_AGENTS_SAVE_MS);
  }

  private remember(known: readonly KnownAgent[]): void {
    for (const agent of known) if (!this.records.has(agent.agentId)) this.newRecord(agent.agentId, agent.name);
    this.changed();
  }

  private newRecord(agentId: string, name: string): AgentRecord {
    const record = newAgentRecord(agentId, name);
    this.records.set(agentId, record);
    return record;
  }

  /**
   * The connection for `record` on its path: the signaling server while it lists the agent, else
   * the agent's own LAN endpoint (paired agents only). Paired agents are pinned on both paths.
   */
  private newConnection(record: AgentRecord, store: DisposableStore): AgentConnection {
    const base = record.reconnect ? RESUME_CONNECT_TIMEOUT_MS : CONSOLE_CONNECT_TIMEOUT_MS;
    const connectTimeoutMs = setupTimeoutMs(base, record.setupTimeouts);
    const options = {
      iceServers: this.cloudIceServers(),
      connectTimeoutMs,
      identity: this.identity,
      ...(record.paired ? { paired: record.paired } : {}),
    };
    const cloud = record.inPresence ? this.signaling?.agents.get(record.agentId) : undefined;
    if (cloud && this.signaling) return this.newAgentConnection(cloud, this.signaling, options);
    if (!record.paired) throw new Error(`agent ${record.name} is not online`);
    const adopted = this.adopted.get(record.agentId);
    this.adopted.delete(record.agentId);
    const lan = store.add(new LanPath(record.paired, this.identity, adopted));
    const info = { agentId: record.agentId, name: record.name, version: record.version ?? '' };
    // LAN: host candidates only, no STUN or TURN.
    return this.newAgentConnection(info, lan, { ...options, iceServers: [] });
  }

  /** A connection over `path`, through the test network where there is one. */
  private newAgentConnection(agent: AgentInfo, path: NegotiationTransport, options: AgentConnectionOptions): AgentConnection {
    const network = this.network;
    if (!network) return new AgentConnection(agent, path, options);
    return new AgentConnection(agent, network.signalingPath(path), {
      ...options,
      peerConnection: (config, id) => network.peerConnection(config, id),
    });
  }

  /** The signaling server's time-limited TURN servers first, then the ones the user configured (`ice`). */
  private cloudIceServers(): RTCIceServer[] {
    return [...(this.signaling?.iceServers ?? []), ...this.iceServers];
  }

  /**
   * A paired agent's name as it said it over its pinned channel: its operator renamed it since the
   * pairing (`--name`). Kept in the pairing, so that the next run shows it before connecting.
   */
  private authenticatedName(record: AgentRecord, said: string | undefined): void {
    const name = said?.trim();
    if (!record.paired || !name || name === record.paired.name) return;
    console.info(`[agent ${record.agentId}] renamed by its operator: “${record.paired.name}” is now “${name}”`);
    record.paired = { ...record.paired, name };
    record.name = name;
    this.savePaired?.(record.paired).catch((error: unknown) =>
      console.warn(`[agents] the new name of ${record.agentId} not kept: ${String(error)}`),
    );
  }

  private dropConnection(record: AgentRecord): void {
    clearTimeout(record.retryTimer);
    record.retryTimer = undefined;
    // The connection first: its disconnect still goes out on the LAN path the store owns.
    record.connection?.dispose();
    record.connectionStore?.dispose();
    record.connection = undefined;
    record.connectionStore = undefined;
    record.path = undefined;
  }

  private pollTargets(): void {
    for (const record of this.records.values()) record.connection?.refreshTargets();
  }

  private async pollPaths(): Promise<void> {
    let changed = false;
    for (const record of this.records.values()) {
      const connection = record.connection;
      if (!connection || connection.stage.kind !== 'ready') continue;
      try {
        const path = await connection.networkPath();
        changed ||= JSON.stringify(path) !== JSON.stringify(record.path);
        record.path = path;
      } catch (error) {
        console.warn(`[agent ${record.agentId}] getStats failed: ${String(error)}`);
      }
    }
    if (changed) this.changed();
  }

  // When a failed connection is made again, at two paces: a lost connection whose shells the agent
  // still keeps is re-established quickly (reconnect-policy.ts) until their grace is over; any other
  // failure of an online agent is retried 2, 4, 8… up to 30 s later.

  /**
   * A connection to an online agent that failed is tried again, 2, 4, 8… up to 30 s later: a
   * restarted agent or a transient ICE failure should not need a click. Tabs keep their error
   * until the user reconnects them, since their shells are gone.
   */
  private retry(record: AgentRecord): void {
    clearTimeout(record.retryTimer);
    record.failures += 1;
    const delay = Math.min(30_000, 1_000 * 2 ** record.failures);
    record.retryTimer = setTimeout(() => {
      record.retryTimer = undefined;
      if (record.online && !record.heldOff && connectionIsOver(record)) this.connect(record.agentId);
    }, delay);
  }

  /** The connection was lost with shells the agent keeps: try again quickly until their grace is over. */
  private startReconnect(record: AgentRecord): void {
    const grace = this.resumeGraceFor(record.agentId);
    if (grace <= 0) return;
    const now = Date.now();
    record.reconnect = { since: now, deadline: now + grace, attempt: 0, lastError: undefined };
  }

  /** The next attempt of a reconnection under way, after its backoff. */
  private resumeAttempt(record: AgentRecord): void {
    const reconnect = record.reconnect;
    if (!reconnect) return;
    clearTimeout(record.retryTimer);
    record.retryTimer = setTimeout(
      () => {
        record.retryTimer = undefined;
        if (record.reconnect !== reconnect) return;
        if (Date.now() >= reconnect.deadline) {
          // The agent has dropped the shells by now; back to the ordinary retry.
          record.reconnect = undefined;
          this.retry(record);
          this.changed();
          return;
        }
        if (!connectionIsOver(record)) return; // an attempt is under way
        reconnect.attempt += 1;
        if (!record.online) {
          reconnect.lastError = `${record.name} is offline; waiting for it to come back`;
          this.resumeAttempt(record);
        } else {
          this.connect(record.agentId);
        }
        this.changed();
      },
      resumeBackoffMs(reconnect.attempt + 1),
    );
  }

  private changed(): void {
    this.changeEmitter.fire();
  }
}
