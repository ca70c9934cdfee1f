/**
 * One WebRTC peer connection with one console, for one negotiation id: answers the offer with
 * werift, trickles candidates, and routes each data channel to the control channel or a terminal
 * channel. Closing the peer detaches its sessions; they wait out their grace period for a resume.
 */
import { RTCPeerConnection, type RTCDataChannel, type PeerConfig } from 'werift';
import {
  CONTROL_CHANNEL_LABEL,
  encodeMessage,
  err,
  FILE_CHANNEL_PREFIX,
  MAX_CHANNELS_PER_PEER,
  ok,
  protocolError,
  RUNNING_CAPABILITY,
  TTY_CHANNEL_PREFIX,
  type ErrorCode,
  type IceCandidate,
  type Result,
} from '@tether/protocol';
import type { AuditLog, AuditPeer } from './audit.js';
import { addDebugFigures, sctpFigures } from './debug-stats.js';
import { ChannelBounds, type ChannelKind } from './channel-bounds.js';
import { AgentControlChannel, type AgentIdentity } from './control-channel.js';
import { describeError, withDeadline } from './deadline.js';
import type { DockerTargets } from './docker-targets.js';
import { createLogger } from './log.js';
import type { SessionRules } from './session-rules.js';
import type { TargetWatcher } from './target-events.js';
import type { PeerTrust } from './trust/peer-trust.js';
import type { SessionRegistry } from './session-registry.js';
import { AgentTtyChannel } from './tty-channel.js';
import { closeWhenDrained, type DataChannelPort } from './data-channel.js';
import { AgentFileChannel } from './transfer/file-channel.js';
import type { TransferRules } from './transfer/transfer-rules.js';
import { weriftChannel } from './werift-channel.js';

const log = createLogger(import.meta.url);

/** How long answering an offer may take (werift generates keys on the first connection). */
export const ANSWER_TIMEOUT_MS = 15_000;
/** A connection that stays `disconnected` this long is treated as gone. */
export const PEER_DISCONNECTED_CLOSE_MS = 20_000;
/**
 * A peer connection that has not connected this long after its answer is closed: without it, an
 * offer whose console never completes ICE (gone, or never meant to) held a peer and its sockets
 * for ever.
 */
export const CONNECT_TIMEOUT_MS = 30_000;

export interface PeerOptions {
  negotiationId: string;
  consoleId: string;
  rtcConfig: Partial<PeerConfig>;
  targets: DockerTargets;
  /** pushes the targets list on changes; none in unit tests */
  watcher?: TargetWatcher | undefined;
  rules: SessionRules;
  /** what file transfers the agent allows; none when absent */
  transfers?: TransferRules | undefined;
  /** the agent's sessions, which outlive this peer connection for their grace period */
  registry: SessionRegistry;
  audit: AuditLog;
  /** who is on the other end, for the audit log */
  who: AuditPeer;
  identity: AgentIdentity;
  /** the data-channel binding; decides when terminals may be served */
  trust: PeerTrust;
  /** Our next ICE candidate for the console; null once gathering is complete. */
  sendIce(candidate: IceCandidate | null): void;
  /** The peer connection ended, by either side. */
  onClosed(reason: string): void;
}

export class AgentPeer {
  private readonly ttys = new Set<AgentTtyChannel>();
  /** the console's hello capabilities, once it said hello on `control` */
  private consoleCapabilities: readonly string[] = [];
  private readonly controls = new Set<AgentControlChannel>();
  private readonly files = new Set<AgentFileChannel>();
  private disconnectedTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private channels = 0;
  private closing: Promise<void> | undefined;
  private readonly removeFigures: () => void;

  private constructor(
    private readonly pc: RTCPeerConnection,
    private readonly options: PeerOptions,
  ) {
    const turn = (options.rtcConfig.iceServers ?? []).some((server) => /^turns?:/i.test(String(server.urls)));
    let relayed = false;
    pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate) {
        // werift reports TURN failures only to its debug log: say it where an operator looks.
        if (turn && !relayed)
          log.warn('no TURN relay candidate: the TURN server refused the credentials (expired?) or did not answer', {
            negotiationId: options.negotiationId,
          });
        return options.sendIce(null);
      }
      relayed ||= / typ relay/.test(candidate.candidate ?? '');
      const json = candidate.toJSON();
      options.sendIce({ candidate: json.candidate ?? '', sdpMid: json.sdpMid ?? null, sdpMLineIndex: json.sdpMLineIndex ?? null });
    });
    pc.onDataChannel.subscribe((channel) => this.accept(channel));
    pc.connectionStateChange.subscribe((state) => this.stateChanged(state));
    this.connectTimer = setTimeout(() => void this.close('not connected in time'), CONNECT_TIMEOUT_MS);
    this.removeFigures = addDebugFigures(`peer:${options.negotiationId}`, () => sctpFigures(pc.sctpTransport));
  }

  /** Creates the peer connection and answers `offerSdp`; the answer's SDP on success. */
  static async answer(offerSdp: string, options: PeerOptions): Promise<Result<{ peer: AgentPeer; sdp: string }>> {
    const pc = new RTCPeerConnection(options.rtcConfig);
    const peer = new AgentPeer(pc, options);
    try {
      const sdp = await withDeadline(
        (async () => {
          await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
          // The agent is the DTLS server (a=setup:passive, DESIGN.md): the console's ClientHello
          // leaves as soon as its own ICE check succeeds, instead of waiting for the agent's ICE
          // and its ClientHello (werift keeps a ClientHello that comes early: patch 013).
          for (const transport of pc.dtlsTransports) transport.role = 'server';
          const answer = await pc.createAnswer();
          await pc.setLocalDescription(answer);
          return pc.localDescription?.sdp ?? answer.sdp;
        })(),
        ANSWER_TIMEOUT_MS,
        'answering the offer',
      );
      return ok({ peer, sdp });
    } catch (cause) {
      await peer.close('answer failed');
      return err(protocolError('INTERNAL', `could not answer the offer: ${describeError(cause)}`));
    }
  }

  /** True while the peer connection is up (ICE and DTLS connected). */
  get isConnected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  /** Terminal channels open on this peer connection. */
  get sessionCount(): number {
    return this.ttys.size;
  }

  async addIce(candidate: IceCandidate | null): Promise<void> {
    if (candidate === null) {
      // Not passed on: with the mDNS candidates dropped, werift often has no remote candidate yet
      // when the end marker comes, and it then fails ICE at once, before the console's first
      // check arrives and is learnt as peer-reflexive. werift's own timeouts still apply.
      log.debug('end of remote candidates', { negotiationId: this.options.negotiationId });
      return;
    }
    if (isMdnsCandidate(candidate.candidate)) {
      // Chromium hides its host addresses behind `<uuid>.local` names. werift would resolve them
      // with multicast DNS on every interface (10 s timeout on the first try, and a late answer
      // adds a pair on another interface mid-session). The console's checks reach us anyway and
      // werift learns its address as a peer-reflexive candidate, so such candidates are dropped.
      log.debug('mDNS candidate ignored', { negotiationId: this.options.negotiationId });
      return;
    }
    try {
      await withDeadline(
        this.pc.addIceCandidate(
          candidate
            ? {
                ...candidate,
                sdpMid: candidate.sdpMid ?? undefined,
                sdpMLineIndex: candidate.sdpMLineIndex ?? undefined,
                usernameFragment: candidate.usernameFragment ?? undefined,
              }
            : undefined,
        ),
        ANSWER_TIMEOUT_MS,
        'adding an ICE candidate',
      );
    } catch (cause) {
      log.warn('remote candidate rejected', { negotiationId: this.options.negotiationId, error: describeError(cause) });
    }
  }

  /**
   * The pin, checked on the certificate the DTLS handshake actually presented (not on the SDP's
   * fingerprint line, which a relay can write so that werift verifies another line): its SHA-256
   * must be the console's pinned fingerprint. True when it matched; on a mismatch the trust
   * refuses the peer (audited, FINGERPRINT_MISMATCH) and it closes.
   */
  private checkDtlsCertificate(): boolean {
    if (this.options.trust.dtlsVerified) return true;
    const certificate = this.pc.dtlsTransports.map((t) => t.dtls?.remoteCertificate).find((der) => der !== undefined);
    if (!certificate) return false;
    return this.options.trust.checkDtlsCertificate(certificate).ok;
  }

  private accept(raw: RTCDataChannel): void {
    // A channel came over SCTP, so the path works whatever werift's connection state says yet:
    // the connect timeout is for peers that never connect.
    clearTimeout(this.connectTimer);
    const kind = channelKind(raw.label);
    const port = weriftChannel(raw, kind && new ChannelBounds({ kind, negotiationId: this.options.negotiationId }));
    if (!this.checkDtlsCertificate()) {
      // Nothing on any channel is acted on before the DTLS certificate is known to be the pinned one.
      log.warn('data channel refused: the DTLS certificate is not the pinned one', {
        negotiationId: this.options.negotiationId,
        label: port.label.slice(0, 64),
      });
      refuseChannel(port, 'FINGERPRINT_MISMATCH', "the DTLS certificate is not the pinned console's: possible interception");
      void this.close('DTLS certificate is not the pinned one');
      return;
    }
    const peerId = this.options.consoleId;
    if (this.channels >= MAX_CHANNELS_PER_PEER) {
      log.warn('too many data channels; refused', { negotiationId: this.options.negotiationId, label: port.label.slice(0, 64) });
      refuseChannel(port, 'RATE_LIMITED', `at most ${MAX_CHANNELS_PER_PEER} data channels per peer connection`);
      return;
    }
    this.channels++;
    // Which stream each channel had, and when it ended: a channel closed under a new one that
    // reused its id shows here (debug: one line per channel).
    const stream = { negotiationId: this.options.negotiationId, label: port.label.slice(0, 64), id: raw.id };
    log.debug('data channel opened', stream);
    port.onClose(() => {
      this.channels--;
      log.debug('data channel closed', stream);
    });
    if (port.label === CONTROL_CHANNEL_LABEL) {
      const control = new AgentControlChannel(
        port,
        this.options.targets,
        this.options.identity,
        peerId,
        this.options.trust,
        this.options.watcher,
        (capabilities) => (this.consoleCapabilities = capabilities),
      );
      this.controls.add(control);
      port.onClose(() => this.controls.delete(control));
      return;
    }
    if (port.label.startsWith(TTY_CHANNEL_PREFIX)) {
      const tty = new AgentTtyChannel(port, {
        targets: this.options.targets,
        shells: this.options.rules.shells,
        rules: this.options.rules,
        registry: this.options.registry,
        owner: sessionOwner(this.options.who),
        audit: this.options.audit,
        who: this.options.who,
        peerId,
        authorize: () => this.options.trust.authorized(),
        consoleTakesRunning: () => this.consoleCapabilities.includes(RUNNING_CAPABILITY),
      });
      this.ttys.add(tty);
      void tty.done.then(() => this.ttys.delete(tty));
      return;
    }
    if (port.label.startsWith(FILE_CHANNEL_PREFIX)) {
      const file = new AgentFileChannel(port, {
        registry: this.options.registry,
        rules: this.options.transfers,
        audit: this.options.audit,
        who: this.options.who,
        owner: sessionOwner(this.options.who),
        peerId,
        authorize: () => this.options.trust.authorized(),
      });
      this.files.add(file);
      void file.done.then(() => this.files.delete(file));
      return;
    }
    log.warn('unknown data channel closed', { negotiationId: this.options.negotiationId, label: port.label.slice(0, 64) });
    refuseChannel(port, 'BAD_MESSAGE', `unknown channel label "${port.label.slice(0, 64)}"`);
  }

  private stateChanged(state: string): void {
    log.debug('connection state', { negotiationId: this.options.negotiationId, state });
    if (state === 'connected' || state === 'failed') {
      // Also on `failed`: werift's own check failing on a certificate the SDP named by another
      // line is an interception to report as such, not a plain network failure.
      const checked = this.checkDtlsCertificate();
      if (state === 'connected' && !checked) return void this.close('DTLS certificate is not the pinned one');
    }
    if (state === 'connected') {
      clearTimeout(this.connectTimer);
      clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
      log.info('peer connected', {
        negotiationId: this.options.negotiationId,
        console: this.options.consoleId,
        path: selectedPath(this.pc),
      });
    } else if (state === 'disconnected') {
      this.disconnectedTimer ??= setTimeout(() => void this.close('disconnected too long'), PEER_DISCONNECTED_CLOSE_MS);
    } else if (state === 'failed' || state === 'closed') {
      void this.close(`connection ${state}`);
    }
  }

  /**
   * Resolves true once the console has acknowledged everything sent on this connection (werift's
   * SCTP queues are empty), false after `maxMs`: closing aborts the association, and what it still
   * held would be lost, such as a stopping agent's last output.
   */
  async drained(maxMs: number): Promise<boolean> {
    for (const started = performance.now(); ; await new Promise((resolve) => setTimeout(resolve, 20))) {
      const sctp = sctpFigures(this.pc.sctpTransport);
      if (!sctp || (sctp.outboundQueue === 0 && sctp.sentQueue === 0 && !sctp.dataChannelQueue)) return true;
      if (performance.now() - started >= maxMs) {
        log.warn('closing a peer connection with unacknowledged data', {
          negotiationId: this.options.negotiationId,
          outboundQueue: sctp.outboundQueue,
          sentQueue: sctp.sentQueue,
        });
        return false;
      }
    }
  }

  /** Ends the peer connection; its sessions are detached and wait for a resume. Idempotent. */
  close(reason: string): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.connectTimer);
      clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
      this.removeFigures();
      this.options.trust.dispose();
      for (const control of this.controls) control.dispose();
      this.controls.clear();
      // The sessions are detached, not ended: the console may come back and resume them.
      for (const tty of this.ttys) tty.gone(`peer closed: ${reason}`, true);
      this.ttys.clear();
      // Transfers are interrupted, their temporary files removed, before the agent may exit.
      await Promise.all(
        [...this.files].map((file) =>
          withDeadline(file.gone(`peer closed: ${reason}`), 10_000, 'ending a transfer').catch((cause: unknown) => {
            log.warn('a transfer did not end in time', { negotiationId: this.options.negotiationId, error: describeError(cause) });
          }),
        ),
      );
      this.files.clear();
      try {
        await withDeadline(this.pc.close(), 5000, 'closing the peer connection');
      } catch (cause) {
        log.warn('peer connection close failed', { negotiationId: this.options.negotiationId, error: describeError(cause) });
      }
      log.info('peer closed', { negotiationId: this.options.negotiationId, console: this.options.consoleId, reason });
      this.options.onClosed(reason);
    })();
    return this.closing;
  }
}

/** The selected candidate pair as the audit and log show it: `relayed` when either end is a TURN relay. */
export interface SelectedPath {
  kind: 'direct' | 'relayed';
  local: string;
  remote: string;
}

/** werift's nominated pair of the first ICE transport (the one bundle), if ICE has chosen one. */
export function selectedPath(pc: RTCPeerConnection): SelectedPath | undefined {
  const pair = pc.iceTransports[0]?.connection.nominated;
  if (!pair) return undefined;
  try {
    const local = pair.localCandidate;
    const remote = pair.remoteCandidate;
    return {
      kind: local.type === 'relay' || remote.type === 'relay' ? 'relayed' : 'direct',
      local: `${local.type} ${local.host}:${local.port}`,
      remote: `${remote.type} ${remote.host}:${remote.port}`,
    };
  } catch (cause) {
    // werift throws from `localCandidate` when the pair's socket has none (closed meanwhile).
    log.debug('no selected pair', { error: describeError(cause) });
    return undefined;
  }
}

/**
 * Tells the console why a channel is refused (a fatal error), then closes it once that is sent.
 * Deferred: werift announces a channel before it marks it open and acknowledges it, and a frame
 * sent or a close made before then never reaches the console.
 */
/** The bounds a channel's label calls for; none for a label no channel answers to (refused). */
function channelKind(label: string): ChannelKind | undefined {
  if (label === CONTROL_CHANNEL_LABEL) return 'control';
  if (label.startsWith(TTY_CHANNEL_PREFIX)) return 'tty';
  if (label.startsWith(FILE_CHANNEL_PREFIX)) return 'file';
  return undefined;
}

function refuseChannel(port: DataChannelPort, code: ErrorCode, message: string): void {
  setImmediate(() => {
    port.send(encodeMessage({ type: 'error', code, message, fatal: true }));
    if (port.isOpen) closeWhenDrained(port);
    else port.close();
  });
}

/** `candidate:… 1 udp 2113937151 0a1b….local 54321 typ host`: the address is an mDNS name. */
export function isMdnsCandidate(candidate: string): boolean {
  const address = candidate.split(' ')[4];
  return address !== undefined && address.toLowerCase().endsWith('.local');
}

/** Who may resume a session: the enrolled console, else whoever holds the same DTLS certificate. */
export function sessionOwner(who: AuditPeer): string {
  return who.consoleId !== undefined ? `console:${who.consoleId}` : `fingerprint:${who.fingerprint ?? who.connection}`;
}
