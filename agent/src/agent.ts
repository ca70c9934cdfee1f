/**
 * The agent: one signaling connection, one peer connection per console negotiation, and the
 * Docker engine behind them. `start` connects; `stop` ends every session (killing their
 * processes) and disconnects.
 */
import Docker from 'dockerode';
import type { PeerConfig } from 'werift';
import type { Disconnect, Ice, IceCandidate, OfferToAgent } from '@tether/protocol';
import type { AgentConfig } from './config.js';
import type { AgentIdentity } from './control-channel.js';
import { DockerTargets, describeRule } from './docker-targets.js';
import { createLogger } from './log.js';
import { AgentPeer } from './peer.js';
import { SignalingClient } from './signaling-client.js';
import { AGENT_VERSION } from './version.js';

const log = createLogger(import.meta.url);

/** Remote candidates held for a negotiation whose answer is still being made. */
const MAX_PENDING_CANDIDATES = 64;

interface Negotiation {
  peer?: AgentPeer;
  /** The console's candidates that arrived before the peer connection existed. */
  remote: (IceCandidate | null)[];
  /** Our candidates gathered before the answer was sent: sent after it, in order. */
  local: (IceCandidate | null)[];
  answered: boolean;
}

/**
 * What the agent advertises as its SCTP max-message-size. Above MAX_FRAME_BYTES on purpose: a
 * console that sends an oversized frame gets MESSAGE_TOO_LARGE from the agent, which it can show,
 * instead of a send() that Chromium refuses locally. Chromium itself sends at most 256 KiB.
 */
export const ADVERTISED_MAX_MESSAGE_BYTES = 256 * 1024;

/** werift's configuration from the agent's: ICE servers only as configured, never a default. */
export function rtcConfigFrom(config: AgentConfig): Partial<PeerConfig> {
  return {
    maxMessageSize: ADVERTISED_MAX_MESSAGE_BYTES,
    iceServers: config.iceServers.flatMap((server) =>
      (Array.isArray(server.urls) ? server.urls : [server.urls]).map((urls) => ({ urls, username: server.username, credential: server.credential })),
    ),
    iceAdditionalHostAddresses: config.iceHosts.length > 0 ? config.iceHosts : undefined,
    iceInterfaceAddresses: config.iceInterface ? { udp4: config.iceInterface } : undefined,
  };
}

export class Agent {
  readonly identity: AgentIdentity;
  private readonly docker: Docker;
  private readonly targets: DockerTargets;
  private readonly signaling: SignalingClient;
  private readonly negotiations = new Map<string, Negotiation>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly config: AgentConfig) {
    this.identity = { id: config.agentId, name: config.name, version: AGENT_VERSION };
    this.docker = new Docker({ socketPath: config.dockerSocket });
    this.targets = new DockerTargets(this.docker, config.labels);
    this.signaling = new SignalingClient(
      config.signalingUrl,
      { role: 'agent', token: config.token, agentId: config.agentId, name: config.name, version: AGENT_VERSION },
      {
        onConnected: () =>
          log.info('agent ready', {
            agentId: config.agentId, name: config.name, version: AGENT_VERSION, signalingUrl: config.signalingUrl,
            expose: describeRule(config.labels), iceServers: config.iceServers.length, peers: this.negotiations.size,
          }),
        onOffer: (offer) => void this.offer(offer),
        onIce: (ice) => this.remoteIce(ice),
        onDisconnect: (message) => void this.remoteDisconnect(message),
      },
    );
  }

  start(): void {
    log.info('agent starting', { agentId: this.config.agentId, version: AGENT_VERSION, signalingUrl: this.config.signalingUrl });
    this.signaling.connect();
  }

  get peerCount(): number {
    return this.negotiations.size;
  }

  private async offer(offer: OfferToAgent): Promise<void> {
    const id = offer.sessionId;
    const previous = this.negotiations.get(id);
    if (previous?.peer) await previous.peer.close('replaced by a new offer');
    const negotiation: Negotiation = { remote: previous?.remote ?? [], local: [], answered: false };
    this.negotiations.set(id, negotiation);
    log.info('offer received', { negotiationId: id, console: offer.consoleId });
    const answered = await AgentPeer.answer(offer.sdp, {
      negotiationId: id,
      consoleId: offer.consoleId,
      rtcConfig: rtcConfigFrom(this.config),
      targets: this.targets,
      shells: this.config.shells,
      user: this.config.user,
      identity: this.identity,
      sendIce: (candidate) => {
        if (negotiation.answered) void this.signaling.sendIce({ sessionId: id, candidate });
        else negotiation.local.push(candidate);
      },
      onClosed: () => {
        if (this.negotiations.get(id) === negotiation) this.negotiations.delete(id);
      },
    });
    if (!answered.ok) {
      log.warn('offer not answered', { negotiationId: id, reason: answered.error.message });
      this.negotiations.delete(id);
      void this.signaling.sendDisconnect({ sessionId: id, reason: answered.error.message.slice(0, 512) });
      return;
    }
    if (this.negotiations.get(id) !== negotiation || this.stopping) {
      await answered.value.peer.close('negotiation ended while answering');
      return;
    }
    negotiation.peer = answered.value.peer;
    for (const candidate of negotiation.remote.splice(0)) await negotiation.peer.addIce(candidate);
    const sent = await this.signaling.sendAnswer({ sessionId: id, sdp: answered.value.sdp });
    if (!sent.ok) log.warn('answer not delivered', { negotiationId: id, reason: sent.error.message });
    negotiation.answered = true;
    for (const candidate of negotiation.local.splice(0)) void this.signaling.sendIce({ sessionId: id, candidate });
  }

  private remoteIce(ice: Ice): void {
    const negotiation = this.negotiations.get(ice.sessionId);
    if (!negotiation) {
      log.debug('candidate for an unknown negotiation dropped', { negotiationId: ice.sessionId });
      return;
    }
    if (negotiation.peer) void negotiation.peer.addIce(ice.candidate);
    else if (negotiation.remote.length < MAX_PENDING_CANDIDATES) negotiation.remote.push(ice.candidate);
    else log.warn('too many early candidates; dropped', { negotiationId: ice.sessionId });
  }

  private async remoteDisconnect(message: Disconnect): Promise<void> {
    const negotiation = this.negotiations.get(message.sessionId);
    if (!negotiation) return;
    this.negotiations.delete(message.sessionId);
    log.info('console disconnected', { negotiationId: message.sessionId, reason: message.reason });
    await negotiation.peer?.close(`console: ${message.reason}`);
  }

  /** Ends every session and peer connection, then leaves the signaling server. Idempotent. */
  stop(reason = 'agent stopping'): Promise<void> {
    this.stopping ??= (async () => {
      log.info('agent stopping', { reason, peers: this.negotiations.size });
      const peers = [...this.negotiations.entries()];
      this.negotiations.clear();
      await Promise.all(
        peers.map(async ([id, negotiation]) => {
          if (this.signaling.connected) void this.signaling.sendDisconnect({ sessionId: id, reason });
          await negotiation.peer?.close(reason);
        }),
      );
      this.signaling.close();
      log.info('agent stopped', { reason });
    })();
    return this.stopping;
  }
}
