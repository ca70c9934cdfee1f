import type { AgentInfo } from '@tether/protocol';
import type { SignalingIo } from './io-types.js';
import { LocalState, type SignalingState } from './state.js';

/** What a node tells the others, and what it hears from them. */
export interface ClusterEvents {
  /** Agents joined or left org somewhere, in the order the shared state applied the changes. */
  onPresence(org: string, joins: AgentInfo[], leaves: string[]): void;
  /** org's whole list as the shared state holds it (a node that joined, or that missed a change). */
  onPresenceReset(org: string, agents: AgentInfo[]): void;
  /** Token ids revoked on some node: every node ends its own connections that used them. */
  onRevoked(jtis: string[]): void;
  /** This node lost the shared store: it ends its connections, so that they reconnect elsewhere. */
  onLost(reason: string): void;
}

/** The health endpoint's answer. */
export interface ClusterHealth {
  ok: boolean;
  [field: string]: unknown;
}

/**
 * The signaling nodes as seen from one of them. With one process (`SingleNode`) every call stays
 * in it; with Redis (`redis-cluster.ts`) state, presence changes (as deltas) and revocations are shared.
 */
export interface Cluster {
  readonly state: SignalingState;
  /** false while the node cannot serve (Redis lost): handshakes are refused, health says so */
  readonly ready: boolean;
  health(): ClusterHealth;
  /** Shares token ids this node learnt were revoked; every node, this one included, ends their connections. */
  shareRevocations(jtis: string[]): void;
  /** True when another node shared this token id as revoked. */
  isRevoked(jti: string): boolean;
  /** Notes a connection this node holds (for the cleanup after this node dies). */
  connectionOpened(socketId: string): Promise<void>;
  connectionClosed(socketId: string): Promise<void>;
  close(): Promise<void>;
}

/** One signaling process on its own: the state in memory, every event handled here. */
export class SingleNode implements Cluster {
  readonly state: LocalState;
  readonly ready = true;

  constructor(private readonly events: ClusterEvents) {
    this.state = new LocalState((org, joins, leaves) => events.onPresence(org, joins, leaves));
  }

  health(): ClusterHealth {
    return { ok: true };
  }

  shareRevocations(jtis: string[]): void {
    this.events.onRevoked(jtis);
  }

  isRevoked(): boolean {
    return false;
  }

  async connectionOpened(): Promise<void> {}

  async connectionClosed(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Starts the cluster view a server's options ask for. */
export type ClusterFactory = (io: SignalingIo, events: ClusterEvents) => Promise<Cluster>;
