import {
  CONTROL_CHANNEL_LABEL,
  FILE_CHANNEL_PREFIX,
  TRANSFER_CAPABILITY,
  TTY_CHANNEL_PREFIX,
  TTY_PROTOCOL,
  type AgentInfo,
  type HelloMessage,
  type ProtocolError,
  type Target,
  normalizeFingerprint,
  protocolError,
  sdpFingerprint,
} from '@tether/protocol';
import { CandidateExchange } from './candidate-exchange';
import { SETUP_STAGE_WAITS_FOR, type ConnectionStage } from './connection-stage';
import { ConsoleControlChannel } from './console-control-channel';
import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import { Keepalive, type KeepaliveOptions } from './keepalive';
import type { NegotiationTransport } from './negotiation-transport';
import { readNetworkPath, type NetworkPath } from './network-path';
import { randomId } from '../base/random-id';
import { SetupDeadline } from './setup-deadline';
import { ChannelBinding } from '../trust/channel-binding';
import { readDtlsOutcome, remoteDtlsFingerprint, type DtlsOutcome } from '../trust/dtls-certificate';
import type { ConsoleIdentity } from '../trust/console-identity';
import type { PairedAgentRecord } from '../trust/trust-store';
import { refusalText } from '../trust/refusal-text';

export interface AgentConnectionOptions {
  iceServers?: RTCIceServer[];
  /**
   * How long one setup stage (signaling, ICE, secure channel) may take before the setup is reported
   * as failed; the whole setup may take `MAX_SETUP_STAGE_TIMEOUTS` times this.
   */
  connectTimeoutMs?: number;
  /** the console identity: its certificate is used for DTLS and its key for the binding */
  identity?: ConsoleIdentity;
  /** the paired agent: its fingerprint is pinned and its binding signature required */
  paired?: PairedAgentRecord;
  /** how often a ready connection pings the agent, and how long silence may last (keepalive.ts) */
  keepalive?: KeepaliveOptions;
  /** makes the peer connection: the browser's own unless a test network stands in (test-hooks.ts) */
  peerConnection?: (config: RTCConfiguration, negotiationId: string) => RTCPeerConnection;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/**
 * How long an established connection may stay ICE-`disconnected` before it counts as lost. Chromium
 * reports `disconnected` after a few seconds without answers to its consent checks and `failed`
 * only after about 30 s; a terminal should start reconnecting long before that. The console's
 * 4 s; the agent's own wait on its side of a lost path is longer and has its own name.
 */
export const ICE_DISCONNECTED_LOSS_MS = 4_000;

/**
 * How long an agent the signaling server says has left may take to answer a ping before its
 * connection counts as lost (AgentConnection.probe): an agent whose signaling alone dropped answers
 * at once over the data path; a loaded host's agent was seen to take up to a second.
 */
export const PRESENCE_LEAVE_PROBE_MS = 3_000;

/** One RTCPeerConnection to one agent, with its control channel; terminals are channels on it. */
export class AgentConnection implements Disposable {
  readonly negotiationId = randomId(22);
  private readonly store = new DisposableStore();
  private readonly stageEmitter = new Emitter<ConnectionStage>();
  private readonly targetsEmitter = new Emitter<Target[]>();
  private readonly errorEmitter = new Emitter<ProtocolError>();
  private readonly unansweredEmitter = new Emitter<number | undefined>();
  private readonly pc: RTCPeerConnection;
  private readonly control: ConsoleControlChannel;
  private readonly keepalive: Keepalive;
  private pings = 0;
  private currentStage: ConnectionStage = { kind: 'idle' };
  private currentTargets: Target[] = [];
  private agentHello: HelloMessage | undefined;
  private readonly candidates: CandidateExchange;
  private readonly setupDeadline: SetupDeadline;
  /** SHA-256 of the certificate the agent presented in the DTLS handshake, once it matched the pin */
  private dtlsFingerprint: string | undefined;
  private everReady = false;
  private disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  /** the last error a STUN/TURN server answered while gathering, e.g. TURN refusing expired credentials */
  private iceServerError: string | undefined;
  /** Whether ICE ever found a path (connected or completed): a setup that fails after that failed in DTLS. */
  private iceEverConnected = false;
  private timedOut = false;

  readonly onStage = this.stageEmitter.event;
  readonly onTargets = this.targetsEmitter.event;
  /** Errors the agent reported on `control`, or frames from it that did not parse. */
  readonly onError = this.errorEmitter.event;
  /**
   * While ready: milliseconds a ping has gone unanswered, once past the keepalive's notice and again
   * every second; `undefined` the moment anything is heard (or the connection ends).
   */
  readonly onUnanswered = this.unansweredEmitter.event;

  constructor(
    readonly agent: AgentInfo,
    private readonly signaling: NegotiationTransport,
    private readonly options: AgentConnectionOptions = {},
  ) {
    const certificates = options.identity ? [options.identity.certificate] : [];
    const config: RTCConfiguration = { iceServers: options.iceServers ?? [], ...(certificates.length ? { certificates } : {}) };
    this.pc = options.peerConnection ? options.peerConnection(config, this.negotiationId) : new RTCPeerConnection(config);
    this.candidates = new CandidateExchange(this.pc, signaling, this.negotiationId, agent.agentId, this.store);
    // The deadline runs only while a setup stage waits (setStage clears it on any other), so its
    // expiry is always this setup's failure.
    this.setupDeadline = new SetupDeadline(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, (reason) => {
      this.timedOut = true;
      this.fail(reason);
    });
    this.store.add(this.setupDeadline);
    const binding = options.identity
      ? new ChannelBinding({
          identity: options.identity,
          paired: options.paired,
          negotiationId: this.negotiationId,
          agentFingerprint: () => this.dtlsFingerprint,
        })
      : undefined;
    // The control channel exists before the offer, so the offer carries the SCTP association and
    // later terminal channels need no renegotiation.
    const controlChannel = this.pc.createDataChannel(CONTROL_CHANNEL_LABEL, { ordered: true, protocol: TTY_PROTOCOL });
    this.control = new ConsoleControlChannel(controlChannel, binding, () => this.checkDtlsCertificate());
    this.store.add(this.control);
    // ICE can stay up while SCTP delivers nothing: only the agent's messages prove the data path.
    this.keepalive = new Keepalive(
      () => this.control.ping(++this.pings),
      (silentMs, probed) => {
        const ice = this.pc.connectionState === 'connected' ? ', although the network path (ICE) is up' : '';
        const seconds = Math.max(1, Math.round(silentMs / 1000));
        this.fail(
          probed
            ? `the agent left the signaling server and did not answer on the data channels within ${seconds} s: it stopped, or its host or network went down`
            : `no answer from the agent on the data channels for ${seconds} s${ice}`,
        );
      },
      options.keepalive,
    );
    this.store.add(this.keepalive);
    this.store.add(this.keepalive.onUnanswered((ms) => this.unansweredEmitter.fire(ms)));
    this.store.listen(controlChannel, 'message', () => this.keepalive.heard());
    this.store.add(
      this.control.onReady((hello) => {
        this.agentHello = hello;
        this.everReady = true;
        this.setStage({ kind: 'ready' });
        this.keepalive.start();
      }),
    );
    this.store.add(this.control.onRefused((error) => this.fail(refusalText(error.code, error.message), error.code)));
    this.store.add(
      this.control.onTargets((targets) => {
        this.currentTargets = targets;
        this.targetsEmitter.fire(targets);
      }),
    );
    this.store.add(this.control.onError((error) => this.errorEmitter.fire(error)));
    this.store.add(this.control.onClose(() => this.fail('the agent closed the control channel')));
    this.store.add(
      signaling.register(this.negotiationId, {
        onAnswer: (msg) => void this.applyAnswer(msg.sdp),
        onIce: (msg) => this.candidates.fromAgent(msg),
        onDisconnect: (msg) => {
          // The agent's stop notice: it ended its sessions before it closed this connection.
          if (msg.code === 'AGENT_STOPPED') this.fail(msg.reason, msg.code, false);
          else if (msg.code) this.fail(refusalText(msg.code, `the agent refused the connection: ${msg.reason}`), msg.code, false);
          // Losing the signaling path (server, agent's socket) does not mean the data path is gone:
          // an established connection is judged by its own ICE state and channels.
          else if (this.everReady)
            console.warn(`[agent ${this.agent.agentId}] signaling says: ${msg.reason}; the data path is judged on its own`);
          else this.fail(`the agent ended the connection: ${msg.reason}`);
        },
        onError: (error) => {
          if (this.everReady)
            console.warn(
              `[agent ${this.agent.agentId}] signaling error ${error.code}: ${error.message}; the data path is judged on its own`,
            );
          else this.fail(error.message, error.code);
        },
      }),
    );
    this.store.listen(this.pc, 'icecandidateerror', (event) => {
      const error = event as RTCPeerConnectionIceErrorEvent;
      // 401 is TURN's "Unauthorized": wrong or expired credentials; 701 means the server did not answer.
      const what = error.errorCode === 401 ? 'refused the credentials (wrong or expired)' : `failed: ${error.errorCode} ${error.errorText}`;
      this.iceServerError = `${error.url || 'the ICE server'} ${what}`;
      console.warn(`[agent ${this.agent.agentId}] ICE server error: ${this.iceServerError}`);
    });
    this.store.listen(this.pc, 'iceconnectionstatechange', () => {
      const ice = this.pc.iceConnectionState;
      if (ice === 'connected' || ice === 'completed') {
        this.iceEverConnected = true;
        // ICE has its path: what is waited for now is DTLS (the connection's state), then SCTP and
        // the hello. A setup that runs out of time there says so, not that it found no path.
        if (this.currentStage.kind === 'ice') this.setStage({ kind: 'secure-channel' });
      }
      if (ice === 'failed') this.fail(this.iceFailedText());
    });
    this.store.listen(this.pc, 'connectionstatechange', () => {
      const state = this.pc.connectionState;
      if (state === 'connected' && this.currentStage.kind === 'ice') this.setStage({ kind: 'secure-channel' });
      else if (state === 'failed' && !this.everReady && this.options.paired) void this.failedBeforeReady();
      else if (state === 'failed' && this.everReady) this.fail('the network path to the agent failed');
      // Chromium may tell the connection failed before it tells ICE did: a setup whose ICE never
      // connected failed for want of a path (and the TURN server's refusal says why), not in DTLS.
      else if (state === 'failed' && !this.iceEverConnected) this.fail(this.iceFailedText());
      else if (state === 'failed') this.fail('the connection to the agent failed in the DTLS handshake');
      if (state === 'disconnected' && this.everReady && this.disconnectedTimer === undefined) {
        this.disconnectedTimer = setTimeout(() => {
          this.disconnectedTimer = undefined;
          if (this.pc.connectionState === 'disconnected')
            this.fail(`no answer from the agent for ${ICE_DISCONNECTED_LOSS_MS / 1000} s: the network path is down`);
        }, ICE_DISCONNECTED_LOSS_MS);
      } else if (state !== 'disconnected') {
        clearTimeout(this.disconnectedTimer);
        this.disconnectedTimer = undefined;
      }
    });
    this.store.add({ dispose: () => clearTimeout(this.disconnectedTimer) });
  }

  get stage(): ConnectionStage {
    return this.currentStage;
  }

  get targets(): readonly Target[] {
    return this.currentTargets;
  }

  /** `lan` (the agent's own endpoint) or `cloud` (the signaling server) */
  get path(): 'cloud' | 'lan' {
    return this.signaling.path;
  }

  /** Whether this connection ever reached `ready`: its failure is then a lost connection, not a failed setup. */
  get wasReady(): boolean {
    return this.everReady;
  }

  /** Whether the setup failed because a stage ran out of time (SetupDeadline), not for a reason given. */
  get setupTimedOut(): boolean {
    return this.timedOut;
  }

  /** How long a ping has gone unanswered, once past the keepalive's notice; undefined otherwise. */
  get unansweredMs(): number | undefined {
    return this.currentStage.kind === 'ready' ? this.keepalive.unansweredMs : undefined;
  }

  /**
   * The signaling server says the agent left: ping it at once, and count the connection lost unless
   * it answers within PRESENCE_LEAVE_PROBE_MS (a killed agent was noticed only after the keepalive's
   * 15 s, while keys typed meanwhile went nowhere). A working data path goes on.
   */
  probe(): void {
    if (this.currentStage.kind === 'ready') this.keepalive.probe(PRESENCE_LEAVE_PROBE_MS);
  }

  get hello(): HelloMessage | undefined {
    return this.agentHello;
  }

  async connect(): Promise<void> {
    if (this.currentStage.kind !== 'idle') return;
    this.setupDeadline.start();
    this.setStage({ kind: 'signaling' });
    try {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
    } catch (error) {
      this.fail(`could not create the offer: ${String(error)}`);
      return;
    }
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) return this.fail('the browser produced no local description');
    const sent = await this.signaling.sendOffer({ sessionId: this.negotiationId, agentId: this.agent.agentId, sdp });
    if (!sent.ok) return this.fail(refusalText(sent.error.code, sent.error.message), sent.error.code);
    this.candidates.offerAcknowledged();
  }

  /** Asks the agent for its targets again; the answer arrives on `onTargets`. */
  refreshTargets(): void {
    if (this.currentStage.kind === 'ready') this.control.listTargets();
  }

  /** Direct or relayed, and the round-trip time, from the peer connection's stats. */
  async networkPath(): Promise<NetworkPath | undefined> {
    if (this.currentStage.kind !== 'ready') return undefined;
    return readNetworkPath(this.pc);
  }

  /** A new terminal channel on this peer connection; the SCTP association is already up. */
  openTerminalChannel(tabId: string): RTCDataChannel {
    if (this.currentStage.kind !== 'ready') {
      throw new Error(`the connection to ${this.agent.name} is not ready (${this.currentStage.kind})`);
    }
    const channel = this.pc.createDataChannel(`${TTY_CHANNEL_PREFIX}${tabId}`, { ordered: true, protocol: TTY_PROTOCOL });
    channel.binaryType = 'arraybuffer';
    // Terminal output proves the data path as well as a pong does.
    channel.addEventListener('message', () => this.keepalive.heard());
    return channel;
  }

  /** Whether the agent said (in its `hello`) that it moves files. */
  get transfersSupported(): boolean {
    return this.agentHello?.capabilities.includes(TRANSFER_CAPABILITY) === true;
  }

  /** A new channel for one file transfer or listing (`file:<id>`), on the same pinned peer connection. */
  openFileChannel(id: string): RTCDataChannel {
    if (this.currentStage.kind !== 'ready') {
      throw new Error(`the connection to ${this.agent.name} is not ready (${this.currentStage.kind})`);
    }
    const channel = this.pc.createDataChannel(`${FILE_CHANNEL_PREFIX}${id}`, { ordered: true, protocol: TTY_PROTOCOL });
    channel.binaryType = 'arraybuffer';
    channel.addEventListener('message', () => this.keepalive.heard());
    return channel;
  }

  dispose(): void {
    if (this.currentStage.kind !== 'failed' && this.currentStage.kind !== 'idle') {
      void this.signaling.sendDisconnect({ sessionId: this.negotiationId, reason: 'console closed the connection' }).then((result) => {
        if (!result.ok) console.warn(`[agent ${this.agent.agentId}] disconnect not acknowledged: ${result.error.message}`);
      });
    }
    if (this.currentStage.kind !== 'failed') this.setStage({ kind: 'closed' });
    this.store.dispose();
    this.pc.close();
    this.stageEmitter.dispose();
    this.targetsEmitter.dispose();
    this.errorEmitter.dispose();
    this.unansweredEmitter.dispose();
  }

  private async applyAnswer(sdp: string): Promise<void> {
    // The first filter: exactly one sha-256 fingerprint line, whatever else (DTLS stacks choose among
    // several lines differently, so a second one is how a relay slips its own certificate in).
    const declared = sdpFingerprint(sdp);
    const pinned = this.options.paired?.fingerprint;
    if (!declared.ok || (pinned && declared.value !== normalizeFingerprint(pinned))) {
      const detail = declared.ok
        ? `the answer's DTLS fingerprint is ${declared.value}, the paired agent's is ${pinned}`
        : `the answer was refused: ${declared.error.message}`;
      console.warn(`[agent ${this.agent.agentId}] answer refused: ${detail}`);
      this.fail(refusalText('FINGERPRINT_MISMATCH', detail), 'FINGERPRINT_MISMATCH');
      return;
    }
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (error) {
      this.fail(`the agent's answer was refused by the browser: ${String(error)}`);
      return;
    }
    if (this.currentStage.kind === 'signaling') this.setStage({ kind: 'ice' });
    this.candidates.answerApplied();
  }

  /**
   * The pin, checked on the certificate DTLS actually negotiated (read from the stats), before
   * anything on any channel is acted on. Undefined when it may go on; else the refusal, which the
   * control channel reports (and this connection fails with FINGERPRINT_MISMATCH).
   */
  private async checkDtlsCertificate(): Promise<ProtocolError | undefined> {
    let observed: string | undefined;
    try {
      observed = await remoteDtlsFingerprint(this.pc);
    } catch (error) {
      console.warn(`[agent ${this.agent.agentId}] the DTLS certificate could not be read: ${String(error)}`);
    }
    const pinned = this.options.paired ? normalizeFingerprint(this.options.paired.fingerprint) : undefined;
    if (observed !== undefined && (pinned === undefined || observed === pinned)) {
      this.dtlsFingerprint = observed;
      return undefined;
    }
    // Unpaired, there is no pin; the browser has checked the certificate against the one SDP line.
    if (pinned === undefined) return undefined;
    const detail =
      observed === undefined
        ? 'the certificate of the DTLS handshake could not be read'
        : `the DTLS handshake presented ${observed}, the paired agent's is ${pinned}`;
    console.warn(`[agent ${this.agent.agentId}] refused after the handshake: ${detail}`);
    return protocolError('FINGERPRINT_MISMATCH', detail);
  }

  /**
   * A paired connection that failed before it was ready. When the network path was up and the DTLS
   * handshake failed, the likely cause is a certificate that is not the pinned one (Chromium checks
   * the agent's against the answer's one fingerprint line, fails the handshake, and keeps no
   * certificate to read), which is a possible interception and is reported as such; the agent
   * reports its side too. Anything else is a plain failure.
   */
  private async failedBeforeReady(): Promise<void> {
    const pinned = normalizeFingerprint(this.options.paired!.fingerprint);
    let dtls: DtlsOutcome = { observed: undefined, failedOverWorkingPath: false };
    try {
      dtls = await readDtlsOutcome(this.pc);
    } catch (error) {
      console.warn(`[agent ${this.agent.agentId}] no DTLS statistics after the failure: ${String(error)}`);
    }
    if (dtls.observed !== undefined && dtls.observed !== pinned) {
      this.fail(
        refusalText('FINGERPRINT_MISMATCH', `the DTLS handshake presented ${dtls.observed}, the paired agent's is ${pinned}`),
        'FINGERPRINT_MISMATCH',
      );
    } else if (dtls.failedOverWorkingPath) {
      const detail = `the DTLS handshake failed although the network path was up: the certificate presented was not the paired agent's ${pinned}, or the handshake broke off`;
      this.fail(refusalText('FINGERPRINT_MISMATCH', detail), 'FINGERPRINT_MISMATCH');
    } else {
      this.fail(this.iceEverConnected ? 'the connection to the agent failed in the DTLS handshake' : this.iceFailedText());
    }
  }

  /** Why a setup found no network path, with what the ICE (TURN) servers answered. */
  private iceFailedText(): string {
    const turn = this.iceServerError ? `; ${this.iceServerError}` : '';
    return `ICE failed: no network path to the agent (check the ICE/TURN servers)${turn}`;
  }

  /** Ends the connection with a reason; tells the agent unless it is the one that ended it. */

  private fail(reason: string, code?: ProtocolError['code'], tellAgent = true): void {
    const kind = this.currentStage.kind;
    if (kind === 'failed' || kind === 'closed') return;
    this.setStage(code ? { kind: 'failed', reason, code } : { kind: 'failed', reason });
    if (kind !== 'idle' && tellAgent) {
      void this.signaling.sendDisconnect({ sessionId: this.negotiationId, reason: reason.slice(0, 512), ...(code ? { code } : {}) });
    }
    this.keepalive.dispose();
    this.pc.close();
  }

  private setStage(stage: ConnectionStage): void {
    this.currentStage = stage;
    const waitingFor = SETUP_STAGE_WAITS_FOR[stage.kind];
    if (waitingFor) this.setupDeadline.stage(waitingFor, () => this.iceServerError);
    else this.setupDeadline.clear();
    this.stageEmitter.fire(stage);
  }
}
