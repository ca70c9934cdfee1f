/**
 * The agent: its persistent identity, the cloud signaling connection and the LAN endpoint (each
 * optional), one peer connection per console negotiation, and the Docker engine behind them.
 * `start` loads the identity and connects; `stop` ends every session (killing their processes)
 * and disconnects.
 */
import { join } from 'node:path';
import Docker from 'dockerode';
import type { PeerConfig } from 'werift';
import { err, ok, protocolError, type IceServer, type Result } from '@tether/protocol';
import { startAgentControl } from './admin/agent-control.js';
import type { ControlSocket } from './admin/control-socket.js';
import { AuditLog } from './audit.js';
import type { AgentConfig } from './config.js';
import type { AgentIdentity } from './control-channel.js';
import { writeRunningAgent } from './running-agent.js';
import { describeError } from './deadline.js';
import type { AgentCounts } from './debug-stats.js';
import { DockerTargets, describeRule } from './docker-targets.js';
import { LanEndpoint } from './lan-endpoint.js';
import { createLogger } from './log.js';
import { Negotiator, type SignalingPort } from './negotiator.js';
import { SessionJournal } from './session-journal.js';
import { agentTag } from './session-killer.js';
import { SessionRegistry } from './session-registry.js';
import { SessionRules } from './session-rules.js';
import { AgentSignalingClient } from './signaling-client.js';
import { TransferRules } from './transfer/transfer-rules.js';
import { TargetWatcher } from './target-events.js';
import { ConsoleRegistry } from './trust/consoles.js';
import { loadIdentity, type AgentKeys } from './trust/identity.js';
import { PairingStore } from './trust/pairings.js';
import { lockStateDir, type StateLock } from './trust/state-lock.js';
import { AGENT_VERSION } from './version.js';

const log = createLogger(import.meta.url);

/**
 * What the agent advertises as its SCTP max-message-size. Above MAX_FRAME_BYTES on purpose: a
 * console that sends an oversized frame gets MESSAGE_TOO_LARGE from the agent, which it can show,
 * instead of a send() that Chromium refuses locally. Chromium itself sends at most 256 KiB.
 */
export const ADVERTISED_MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * werift's configuration from the agent's: ICE servers only as configured, never a default.
 * `issued` are the signaling server's time-limited TURN servers; they come first, because werift
 * uses only the first TURN URL it is given, and the configured (static) ones after them.
 */
export function rtcConfigFrom(config: AgentConfig, keys?: AgentKeys, issued: readonly IceServer[] = []): Partial<PeerConfig> {
  // Bound to one IPv4 address, ICE gathers on it alone (and the --ice-host addresses). werift's
  // own filter would still open an IPv6 socket on every IPv6 address of the machine, and fall
  // back to every IPv4 address when the configured one is not among those it lists (loopback).
  const hosts = config.iceInterface ? [...new Set([config.iceInterface, ...config.iceHosts])] : config.iceHosts;
  return {
    maxMessageSize: ADVERTISED_MAX_MESSAGE_BYTES,
    iceServers: [...issued, ...config.iceServers].flatMap((server) =>
      (Array.isArray(server.urls) ? server.urls : [server.urls]).map((urls) => ({
        urls,
        username: server.username,
        credential: server.credential,
      })),
    ),
    ...(config.iceTransportPolicy === 'relay' ? { iceTransportPolicy: 'relay' as const } : {}),
    iceAdditionalHostAddresses: hosts.length > 0 ? hosts : undefined,
    ...(config.iceInterface ? { iceInterfaceAddresses: { udp4: config.iceInterface }, iceUseIpv4: false, iceUseIpv6: false } : {}),
    // ECDSA (3) with SHA-256 (4): the persistent certificate, so the DTLS fingerprint never changes.
    ...(keys ? { dtls: { keys: { certPem: keys.certPem, keyPem: keys.keyPem, signatureHash: { hash: 4, signature: 3 } } } } : {}),
  };
}

/**
 * Why the agent did not start; `STATE_LOCKED`: another agent uses the state folder (the CLI exits
 * 2); `STATE_WRITE`: a file of the state folder could not be written (a full disk); `START_FAILED`:
 * anything else that failed on the way.
 */
export interface AgentStartError {
  code: 'STATE_LOCKED' | 'IDENTITY' | 'LISTEN' | 'STATE_WRITE' | 'START_FAILED';
  message: string;
}

/** A step of the start that failed, with the sentence the operator reads. */
class StartFailure extends Error {
  constructor(readonly failure: AgentStartError) {
    super(failure.message);
  }
}

/** Runs a write of the start path; its failure ends the start with `what` and the cause. */
function checkedWrite(what: string, write: () => void): void {
  try {
    write();
  } catch (cause) {
    throw new StartFailure({ code: 'STATE_WRITE', message: `cannot write ${what}: ${describeError(cause)}` });
  }
}

/** How long a stopping agent waits for the consoles to acknowledge its sessions' last output. */
export const STOP_DRAIN_MS = 2000;

export class Agent {
  readonly identity: AgentIdentity;
  private readonly targets: DockerTargets;
  private readonly watcher: TargetWatcher;
  /** every terminal session, attached or waiting for a resume */
  readonly sessions: SessionRegistry;
  private readonly journal: SessionJournal;
  private readonly docker: Docker;
  private lock: StateLock | undefined;
  private stopWatchingConsoles: (() => void) | undefined;
  private negotiator: Negotiator | undefined;
  private signaling: AgentSignalingClient | undefined;
  private lan: LanEndpoint | undefined;
  /** agent.sock: how `tether-agent pair` and `consoles` reach this agent */
  private control: ControlSocket | undefined;
  private stopping: Promise<boolean> | undefined;
  private starting: Promise<Result<void, AgentStartError>> | undefined;
  private audit: AuditLog | undefined;
  keys: AgentKeys | undefined;
  /** the signaling server's latest TURN credentials; used for offers that come through it */
  private issuedIceServers: IceServer[] = [];
  /** the LAN endpoint's port once listening */
  lanPort: number | undefined;

  constructor(private readonly config: AgentConfig) {
    this.identity = { id: config.agentId, name: config.name, version: AGENT_VERSION };
    const docker = new Docker({ socketPath: config.dockerSocket });
    this.docker = docker;
    this.journal = new SessionJournal(config.stateDir);
    this.sessions = new SessionRegistry(this.journal);
    this.targets = new DockerTargets(docker, config.labels, config.exposeNames);
    this.watcher = new TargetWatcher(docker, this.targets);
  }

  /**
   * Loads (or creates) the identity, then connects to the cloud and opens the LAN endpoint as
   * configured. Any failure on the way, thrown or returned, is an error value with one sentence.
   */
  start(): Promise<Result<void, AgentStartError>> {
    this.starting ??= this.startSteps().catch((cause: unknown) =>
      err(cause instanceof StartFailure ? cause.failure : { code: 'START_FAILED' as const, message: describeError(cause) }),
    );
    return this.starting;
  }

  private async startSteps(): Promise<Result<void, AgentStartError>> {
    const config = this.config;
    log.info('agent starting', {
      agentId: config.agentId,
      version: AGENT_VERSION,
      signalingUrl: config.signalingUrl,
      stateDir: config.stateDir,
    });
    const lock = lockStateDir(config.stateDir);
    // Held by another agent, or not writable at all (a full disk): only the first is a configuration error.
    if (!lock.ok)
      return err({ code: /another tether-agent|already holds/.test(lock.error) ? 'STATE_LOCKED' : 'STATE_WRITE', message: lock.error });
    this.lock = lock.value;
    const keys = await loadIdentity(config.stateDir);
    if (!keys.ok) return err({ code: 'IDENTITY', message: keys.error });
    this.keys = keys.value;
    const consoles = new ConsoleRegistry(config.stateDir);
    const audit = new AuditLog(config.auditLog ?? join(config.stateDir, 'audit.jsonl'), { failure: config.auditFailure });
    this.audit = audit;
    const tag = agentTag(keys.value.fingerprint);
    const transfers = new TransferRules({ mode: config.transfers, maxBytes: config.transferMaxBytes, containers: config.transferRules });
    const rules = new SessionRules({
      shells: config.shells,
      user: config.user,
      users: config.users,
      maxSessionsPerContainer: config.maxSessionsPerContainer,
      idleTimeoutMs: config.idleTimeoutMs,
      maxSessionMs: config.maxSessionMs,
      recordDir: config.recordDir,
      resumeGraceMs: config.resumeGraceMs,
      agentTag: tag,
      recordInput: config.recordInput,
      standing: {
        priority: config.sessionPriority,
        cpus: config.sessionCpus,
        memory: config.sessionMemory,
        processes: config.sessionProcesses,
      },
      standingRules: config.sessionRules,
    });
    // A previous agent on this folder that died without stopping left its shells running: those
    // its journal lists, and those only their processes' markers tell of.
    const leftovers = await this.journal.endLeftovers({
      docker: this.docker,
      audit,
      agentTag: tag,
      targets: this.targets,
      userFor: (name, labels) => rules.userFor(name, labels),
    });
    if (leftovers > 0) log.warn('ended the sessions of a previous agent that did not stop cleanly', { sessions: leftovers });
    const negotiator = new Negotiator({
      // The cloud path adds the signaling server's TURN servers; the LAN path must work offline,
      // so it gathers with the configured servers only (an unreachable TURN server delays the answer).
      rtcConfig: (path) => rtcConfigFrom(config, keys.value, path === 'cloud' ? this.issuedIceServers : []),
      keys: keys.value,
      consoles,
      policy: config.requirePairing,
      audit,
      targets: this.targets,
      watcher: this.watcher,
      identity: this.identity,
      rules,
      transfers,
      registry: this.sessions,
    });
    this.negotiator = negotiator;
    this.stopWatchingConsoles = consoles.watch(() => void negotiator.closeUntrusted());
    this.watcher.start();
    const runningAgent = join(config.stateDir, 'agent.json');
    const lanHost = config.lanListen
      ? { lanHost: config.lanListen.slice(0, config.lanListen.lastIndexOf(':')).replace(/^\[|\]$/g, '') }
      : {};
    checkedWrite(runningAgent, () => writeRunningAgent(config.stateDir, { agentId: config.agentId, name: config.name, ...lanHost }));
    const ready = {
      agentId: config.agentId,
      name: config.name,
      version: AGENT_VERSION,
      fingerprint: keys.value.fingerprint,
      expose: describeRule(this.config.labels),
    };
    if (config.lanListen) {
      this.lan = new LanEndpoint({
        listen: config.lanListen,
        identity: this.identity,
        keys: keys.value,
        consoles,
        pairings: new PairingStore(config.stateDir),
        negotiator,
        audit,
      });
      try {
        this.lanPort = (await this.lan.listen()).port;
      } catch (cause) {
        return err({ code: 'LISTEN', message: `cannot listen on ${config.lanListen}: ${(cause as Error).message}` });
      }
      const lanPort = this.lanPort;
      checkedWrite(runningAgent, () =>
        writeRunningAgent(config.stateDir, { agentId: config.agentId, name: config.name, lanPort, ...lanHost }),
      );
      if (!config.signalingUrl) log.info('agent ready', { ...ready, lanPort: this.lanPort });
    }
    if (config.signalingUrl && config.token) {
      const client = new AgentSignalingClient(
        config.signalingUrl,
        { role: 'agent', token: config.token, agentId: config.agentId, name: config.name, version: AGENT_VERSION },
        {
          onConnected: () =>
            log.info('agent ready', {
              ...ready,
              signalingUrl: config.signalingUrl,
              lanPort: this.lanPort,
              iceServers: config.iceServers.length,
              peers: negotiator.size,
            }),
          onOffer: (offer) => void negotiator.offer(offer, { port }),
          onIce: (ice) => negotiator.remoteIce(port, ice),
          onDisconnect: (message) => void negotiator.remoteDisconnect(port, message),
          onTurnCredentials: (credentials) => {
            this.issuedIceServers = credentials.iceServers;
            log.debug('TURN credentials received', {
              urls: credentials.iceServers.flatMap((s) => s.urls),
              expiresAt: new Date(credentials.expiresAt).toISOString(),
            });
          },
        },
      );
      const port: SignalingPort = {
        path: 'cloud',
        sendAnswer: (answer) => client.sendAnswer(answer),
        sendIce: (ice) => client.sendIce(ice),
        sendDisconnect: (message) => (client.connected ? client.sendDisconnect(message) : Promise.resolve(ok(undefined))),
      };
      this.signaling = client;
      client.connect();
    }
    this.control = await startAgentControl(config, keys.value.fingerprint, consoles, () => this.lanPort);
    return ok(undefined);
  }

  get peerCount(): number {
    return this.negotiator?.size ?? 0;
  }

  /** Peer connections, terminal channels and sessions (detached ones too) held right now, for debug stats and soak runs. */
  counts(): AgentCounts {
    return {
      peers: this.peerCount,
      channels: this.negotiator?.channelCount ?? 0,
      sessions: this.sessions.size,
      detached: this.sessions.detached,
    };
  }

  /**
   * Stops, draining: every session sends its console all its output, then AGENT_STOPPED, and ends
   * (its processes killed); then each peer connection closes once the console has acknowledged
   * what was sent, with a `webrtc:disconnect` that carries AGENT_STOPPED; then the agent leaves the
   * signaling server. A start still under way finishes first. Resolves true when everything was
   * ended and audited, false when a session's processes could not be killed or audit records
   * could not be written (they are in the agent's log). Idempotent.
   */
  stop(reason = 'agent stopping'): Promise<boolean> {
    this.stopping ??= (async () => {
      await this.starting;
      log.info('agent stopping', { reason, peers: this.peerCount, sessions: this.sessions.size });
      this.stopWatchingConsoles?.();
      this.watcher.close();
      const notice = protocolError('AGENT_STOPPED', `The agent stopped (${reason}); the shell was ended.`);
      const leftRunning = await this.sessions.endAll(`agent stopped (${reason})`, notice);
      await this.negotiator?.closeAll(`the agent stopped (${reason}); its sessions were ended`, undefined, {
        code: 'AGENT_STOPPED',
        drainMs: STOP_DRAIN_MS,
      });
      this.signaling?.close();
      await this.lan?.close();
      await this.control?.close();
      this.journal.close();
      const audited = this.audit?.close() ?? true;
      this.lock?.release();
      const clean = audited && leftRunning === 0;
      log.info('agent stopped', { reason, clean, ...(leftRunning > 0 ? { sessionsLeftRunning: leftRunning } : {}) });
      return clean;
    })();
    return this.stopping;
  }
}
