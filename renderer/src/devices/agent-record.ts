import type { Target } from '@tether/protocol';
import type { AgentConnection } from '../connection/agent-connection';
import type { DisposableStore } from '../base/emitter';
import type { NetworkPath } from '../connection/network-path';
import type { ReconnectState } from '../connection/reconnect-policy';
import type { PairedAgentRecord } from '../trust/trust-store';

/**
 * What the console says before it connects to an agent it has not paired with, once it has paired
 * with any: that the signaling server alone vouches for it (`unpaired`), or that it carries the name
 * of a paired agent without being it (`impostor`: what a hostile server would list to be clicked).
 */
export type PairingWarning = { kind: 'unpaired' } | { kind: 'impostor'; pairedName: string };

/** What the console knows of one agent, and its one connection. */
export interface AgentRecord {
  agentId: string;
  name: string;
  version: string | undefined;
  online: boolean;
  connection: AgentConnection | undefined;
  connectionStore: DisposableStore | undefined;
  targets: Target[];
  targetsKnown: boolean;
  path: NetworkPath | undefined;
  /** consecutive failed connections, for the retry backoff */
  failures: number;
  /** consecutive connections whose setup ran out of time, for the next one's timeout (reconnect-policy.ts) */
  setupTimeouts: number;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** the user pressed Disconnect: not connected again on presence until they press Connect */
  heldOff: boolean;
  /** listed by the signaling server's presence */
  inPresence: boolean;
  /**
   * The name the signaling server's presence gives the agent. Shown as the name of an unpaired
   * agent only: a paired agent's name is the one it authenticated (at pairing, then in its `hello`
   * over the pinned channel), so that a server cannot swap the names of two paired agents.
   */
  presenceName: string | undefined;
  /** set when this console paired with the agent: pinned, and reachable over the LAN */
  paired: PairedAgentRecord | undefined;
  /** set while a lost connection with resumable shells is being re-established */
  reconnect: ReconnectState | undefined;
  /** not paired, and the user chose to connect anyway, trusting the signaling server for it (this run) */
  serverTrusted: boolean;
  /** the agent's last word on its Docker engine, while it cannot list its containers (DOCKER_UNAVAILABLE) */
  engineProblem: string | undefined;
}

export function newAgentRecord(agentId: string, name: string): AgentRecord {
  return {
    agentId,
    name,
    version: undefined,
    online: false,
    connection: undefined,
    connectionStore: undefined,
    targets: [],
    targetsKnown: false,
    path: undefined,
    heldOff: false,
    failures: 0,
    setupTimeouts: 0,
    retryTimer: undefined,
    inPresence: false,
    presenceName: undefined,
    paired: undefined,
    reconnect: undefined,
    serverTrusted: false,
    engineProblem: undefined,
  };
}

/** Whether the record's connection is missing or over: a new one may be made. */
export function connectionIsOver(record: AgentRecord): boolean {
  const stage = record.connection?.stage.kind;
  return stage === undefined || stage === 'failed' || stage === 'closed';
}
