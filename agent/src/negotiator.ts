/**
 * The negotiations of every signaling path (cloud and LAN): checks each offer's DTLS fingerprint
 * against the enrolled consoles (pinning), answers with werift using the agent's persistent
 * certificate, and routes ICE candidates and disconnects. Each path is a SignalingPort.
 */
import type { PeerConfig } from 'werift';
import {
  err,
  MAX_NEGOTIATIONS_PER_CONNECTION,
  MAX_NEGOTIATIONS_PER_CONSOLE,
  MAX_REMOTE_CANDIDATES,
  normalizeFingerprint,
  ok,
  protocolError,
  sdpFingerprint,
  type Answer,
  type Disconnect,
  type ErrorCode,
  type Ice,
  type IceCandidate,
  type OfferToAgent,
  type Result,
} from '@tether/protocol';
import type { AuditLog, AuditPeer } from './audit.js';
import type { AgentIdentity } from './control-channel.js';
import type { DockerTargets } from './docker-targets.js';
import { createLogger } from './log.js';
import { AgentPeer } from './peer.js';
import { holderOf, pairingRequired, type ConsoleRegistry, type EnrolledConsole } from './trust/consoles.js';
import type { AgentKeys } from './trust/identity.js';
import { PeerTrust } from './trust/peer-trust.js';
import type { SessionRegistry } from './session-registry.js';
import type { SessionRules } from './session-rules.js';
import type { TransferRules } from './transfer/transfer-rules.js';
import type { TargetWatcher } from './target-events.js';

const log = createLogger(import.meta.url);

/**
 * Negotiations (peer connections) the agent holds at once, over every path: each is a werift peer
 * with its own UDP sockets. The cloud server bounds each console; this bounds them all together.
 */
export const MAX_NEGOTIATIONS = 128;

/** One signaling path's way back to the console. */
export interface SignalingPort {
  readonly path: 'lan' | 'cloud';
  sendAnswer(answer: Answer): Promise<Result<void>>;
  sendIce(ice: Ice): Promise<Result<void>>;
  sendDisconnect(message: Disconnect): Promise<Result<void>>;
}

/** Where an offer came from; on the LAN, the console its socket authenticated as. */
export interface OfferContext {
  port: SignalingPort;
  authenticatedConsole?: EnrolledConsole | undefined;
}

/** `auto`: required once any console is enrolled; the LAN path always requires pairing. */
export type PairingPolicy = 'auto' | 'always' | 'never';

export interface NegotiatorOptions {
  /** werift's configuration for a new peer connection on that path, read at each offer */
  rtcConfig: (path: SignalingPort['path']) => Partial<PeerConfig>;
  keys: AgentKeys;
  consoles: ConsoleRegistry;
  policy: PairingPolicy;
  audit: AuditLog;
  targets: DockerTargets;
  watcher?: TargetWatcher | undefined;
  rules: SessionRules;
  /** what file transfers the agent allows; none when absent */
  transfers?: TransferRules | undefined;
  registry: SessionRegistry;
  identity: AgentIdentity;
}

interface Negotiation {
  peer?: AgentPeer;
  remote: (IceCandidate | null)[];
  /** remote candidates taken so far, early or not (MAX_REMOTE_CANDIDATES) */
  candidates: number;
  local: (IceCandidate | null)[];
  answered: boolean;
  port: SignalingPort;
  /** the signaling connection that offered it: the LAN socket, or the cloud server's console connection id */
  connection: string;
  /** the console identity it counts against, per path: `<path>:console:<id>` when enrolled, else `<path>:fingerprint:<sha-256>` */
  identity: string;
  /** the enrolled console on the other end, when the offer's fingerprint is one */
  consoleId?: string | undefined;
  who: AuditPeer;
}

export class Negotiator {
  private readonly negotiations = new Map<string, Negotiation>();

  constructor(private readonly options: NegotiatorOptions) {}

  get size(): number {
    return this.negotiations.size;
  }

  /** Terminal channels of every peer connection. */
  get channelCount(): number {
    let count = 0;
    for (const negotiation of this.negotiations.values()) count += negotiation.peer?.sessionCount ?? 0;
    return count;
  }

  /** Pinning: which enrolled console the offer's fingerprint belongs to, and whether it must authenticate. */
  checkOffer(
    sdp: string,
    context: OfferContext,
  ): Result<{ fingerprint: string; console?: EnrolledConsole | undefined; required: boolean }> {
    const declared = sdpFingerprint(sdp);
    if (!declared.ok) return err(protocolError('FINGERPRINT_MISMATCH', `offer refused: ${declared.error.message}`));
    const fingerprint = declared.value;
    const enrolled = this.options.consoles.all();
    if (!enrolled.ok) {
      // Fail closed: an unreadable consoles.json must not read as "no console enrolled" (auto: unpaired allowed).
      log.error('enrolled consoles unreadable; every offer is refused', { error: enrolled.error });
      return err(protocolError('INTERNAL', 'the agent cannot read its enrolled consoles, and serves none until it can; its log says why'));
    }
    const known = holderOf(enrolled.value, fingerprint);
    if (known?.revokedAt) return err(protocolError('NOT_PAIRED', `console ${known.name} (${known.id}) was revoked on this agent`));
    const lan = context.port.path === 'lan';
    if (lan && (!known || known.id !== context.authenticatedConsole?.id)) {
      return err(protocolError('FINGERPRINT_MISMATCH', "the offer's DTLS fingerprint is not the authenticated console's"));
    }
    const required = lan || pairingRequired(this.options.policy, enrolled);
    if (required && !known) {
      return err(protocolError('FINGERPRINT_MISMATCH', "the offer's DTLS fingerprint is not an enrolled console's"));
    }
    return ok({ fingerprint, console: known, required: required || known !== undefined });
  }

  private key(port: SignalingPort, sessionId: string): string {
    return `${port.path}:${sessionId}`;
  }

  async offer(offer: OfferToAgent, context: OfferContext): Promise<void> {
    const { port } = context;
    const id = offer.sessionId;
    const key = this.key(port, id);
    const who: AuditPeer = { path: port.path, connection: offer.consoleId };
    const checked = this.checkOffer(offer.sdp, context);
    if (!checked.ok) {
      const declared = sdpFingerprint(offer.sdp);
      const fingerprint = declared.ok ? declared.value : undefined;
      log.warn('offer refused', {
        negotiationId: id,
        console: offer.consoleId,
        path: port.path,
        code: checked.error.code,
        reason: checked.error.message,
      });
      this.options.audit.record('offer.refused', {
        ...who,
        fingerprint,
        negotiationId: id,
        code: checked.error.code,
        reason: checked.error.message,
      });
      if (this.negotiations.get(key)?.port === port) await this.drop(key);
      void port.sendDisconnect({ sessionId: id, reason: checked.error.message, code: checked.error.code });
      return;
    }
    Object.assign(who, {
      fingerprint: checked.value.fingerprint,
      consoleId: checked.value.console?.id,
      consoleName: checked.value.console?.name,
    });
    const previous = this.negotiations.get(key);
    const connection = `${port.path}:${offer.consoleId}`;
    // Counted per path: an offer's fingerprint is public and proves nothing until DTLS, so offers
    // naming the engineer's console on the cloud path (a hostile server, or another holder of a
    // console token) must not use up the slots of its authenticated LAN path (lan:auth).
    const identity = `${port.path}:${checked.value.console ? `console:${checked.value.console.id}` : `fingerprint:${checked.value.fingerprint}`}`;
    const bounded = this.checkBounds(port, previous, connection, identity);
    if (!bounded.ok) {
      log.warn('offer refused', {
        negotiationId: id,
        console: offer.consoleId,
        path: port.path,
        code: bounded.error.code,
        reason: bounded.error.message,
      });
      void port.sendDisconnect({ sessionId: id, reason: bounded.error.message, code: bounded.error.code });
      return;
    }
    if (previous?.peer) await previous.peer.close('replaced by a new offer');
    const negotiation: Negotiation = {
      remote: previous?.remote ?? [],
      candidates: previous?.remote.length ?? 0,
      local: [],
      answered: false,
      port,
      connection,
      identity,
      consoleId: checked.value.console?.id,
      who,
    };
    this.negotiations.set(key, negotiation);
    log.info('offer received', {
      negotiationId: id,
      console: offer.consoleId,
      path: port.path,
      consoleId: checked.value.console?.id,
      auth: checked.value.required,
    });
    let refusedPeer: AgentPeer | undefined;
    const trust = new PeerTrust({
      negotiationId: id,
      keys: this.options.keys,
      consoleFingerprint: checked.value.fingerprint,
      console: checked.value.console,
      required: checked.value.required,
      onAuthenticated: (c) => {
        log.info('console authenticated', { negotiationId: id, consoleId: c.id, name: c.name });
        this.options.audit.record('console.authenticated', { ...who, negotiationId: id });
      },
      onRefused: (error) => {
        log.warn('console refused', { negotiationId: id, code: error.code, reason: error.message });
        const observed = error.observed ? { dtlsFingerprint: error.observed } : {};
        this.options.audit.record('console.refused', { ...who, ...observed, negotiationId: id, code: error.code, reason: error.message });
        void port.sendDisconnect({ sessionId: id, reason: error.message, code: error.code });
        refusedPeer = negotiation.peer;
        setTimeout(() => void refusedPeer?.close(error.code), 200).unref();
      },
    });
    const answered = await AgentPeer.answer(offer.sdp, {
      negotiationId: id,
      consoleId: offer.consoleId,
      rtcConfig: this.options.rtcConfig(port.path),
      targets: this.options.targets,
      watcher: this.options.watcher,
      rules: this.options.rules,
      transfers: this.options.transfers,
      registry: this.options.registry,
      audit: this.options.audit,
      who,
      identity: this.options.identity,
      trust,
      sendIce: (candidate) => {
        if (negotiation.answered) void port.sendIce({ sessionId: id, candidate });
        else negotiation.local.push(candidate);
      },
      onClosed: () => {
        if (this.negotiations.get(key) === negotiation) this.negotiations.delete(key);
      },
    });
    if (!answered.ok) {
      log.warn('offer not answered', { negotiationId: id, reason: answered.error.message });
      this.negotiations.delete(key);
      void port.sendDisconnect({ sessionId: id, reason: answered.error.message.slice(0, 512) });
      return;
    }
    if (this.negotiations.get(key) !== negotiation) {
      await answered.value.peer.close('negotiation ended while answering');
      return;
    }
    negotiation.peer = answered.value.peer;
    for (const candidate of negotiation.remote.splice(0)) await negotiation.peer.addIce(candidate);
    const sent = await port.sendAnswer({ sessionId: id, sdp: answered.value.sdp });
    if (!sent.ok) log.warn('answer not delivered', { negotiationId: id, reason: sent.error.message });
    negotiation.answered = true;
    for (const candidate of negotiation.local.splice(0)) void port.sendIce({ sessionId: id, candidate });
  }

  /**
   * The bounds on negotiations: MAX_NEGOTIATIONS in all, MAX_NEGOTIATIONS_PER_CONNECTION per
   * signaling connection (LAN socket or cloud console connection), MAX_NEGOTIATIONS_PER_CONSOLE per
   * console identity; and a sessionId stays with the connection that offered it first. Without the
   * last two, two cloud connections with one token filled all 128 slots (issue 11).
   */
  private checkBounds(port: SignalingPort, previous: Negotiation | undefined, connection: string, identity: string): Result<void> {
    if (previous && previous.port !== port) {
      return err(protocolError('FORBIDDEN', 'this sessionId belongs to another connection; choose a new one'));
    }
    if (previous) return ok(undefined); // a repeated offer (ICE restart) replaces its negotiation
    if (this.negotiations.size >= MAX_NEGOTIATIONS) {
      return err(protocolError('RATE_LIMITED', `the agent holds ${MAX_NEGOTIATIONS} negotiations, its most; try again later`));
    }
    let ofConnection = 0;
    let ofIdentity = 0;
    for (const n of this.negotiations.values()) {
      if (n.connection === connection) ofConnection++;
      if (n.identity === identity) ofIdentity++;
    }
    if (ofConnection >= MAX_NEGOTIATIONS_PER_CONNECTION) {
      return err(
        protocolError(
          'RATE_LIMITED',
          `at most ${MAX_NEGOTIATIONS_PER_CONNECTION} negotiations per signaling connection; disconnect some first`,
        ),
      );
    }
    if (ofIdentity >= MAX_NEGOTIATIONS_PER_CONSOLE) {
      return err(protocolError('RATE_LIMITED', `at most ${MAX_NEGOTIATIONS_PER_CONSOLE} negotiations per console; disconnect some first`));
    }
    return ok(undefined);
  }

  /** A remote candidate; RATE_LIMITED past MAX_REMOTE_CANDIDATES for one negotiation. */
  remoteIce(port: SignalingPort, ice: Ice): Result<void> {
    const negotiation = this.negotiations.get(this.key(port, ice.sessionId));
    if (!negotiation || negotiation.port !== port) {
      log.debug('candidate for an unknown negotiation dropped', { negotiationId: ice.sessionId });
      return ok(undefined); // may be a late one for a negotiation that just ended
    }
    if (negotiation.candidates >= MAX_REMOTE_CANDIDATES) {
      log.warn('too many remote candidates; dropped', { negotiationId: ice.sessionId });
      return err(protocolError('RATE_LIMITED', `at most ${MAX_REMOTE_CANDIDATES} candidates per negotiation`));
    }
    negotiation.candidates++;
    if (negotiation.peer) void negotiation.peer.addIce(ice.candidate);
    else negotiation.remote.push(ice.candidate);
    return ok(undefined);
  }

  async remoteDisconnect(port: SignalingPort, message: Disconnect): Promise<void> {
    const key = this.key(port, message.sessionId);
    const negotiation = this.negotiations.get(key);
    if (negotiation?.port !== port) return;
    if (message.offline && negotiation.peer?.isConnected) {
      // The server lost the console's signaling connection (a late heartbeat is enough): that says
      // nothing of the peer connection, which is judged by its own ICE state and channels.
      log.info('console offline on the signaling path; its working peer connection goes on', {
        negotiationId: message.sessionId,
        reason: message.reason,
      });
      return;
    }
    log.info('console disconnected', { negotiationId: message.sessionId, reason: message.reason });
    await this.drop(key, `console: ${message.reason}`);
  }

  private async drop(key: string, reason = 'refused'): Promise<void> {
    const negotiation = this.negotiations.get(key);
    if (!negotiation) return;
    this.negotiations.delete(key);
    await negotiation.peer?.close(reason);
  }

  /**
   * Ends what the enrolled consoles no longer allow; called on every change of consoles.json and
   * at once after a LAN enrollment. The peer connections and sessions of consoles revoked since
   * they connected (`tether-agent consoles revoke` while they are open), and, once pairing is
   * required (`always`, or `auto` with any console ever enrolled), those of unpaired consoles that
   * connected while it was not: a signaling server that connected to the agent before its first
   * pairing must not keep a shell, or open new ones, after it. An unpaired connection whose
   * certificate has been enrolled since stays: its DTLS handshake proved it holds that certificate,
   * so it is the console that paired. Their processes are killed.
   */
  async closeUntrusted(): Promise<void> {
    const all = this.options.consoles.all();
    const list = all.ok ? all.value : [];
    const required = pairingRequired(this.options.policy, all);
    const revoked = new Set(list.filter((c) => c.revokedAt !== undefined).map((c) => c.id));
    const enrolled = new Set(list.filter((c) => c.revokedAt === undefined).map((c) => normalizeFingerprint(c.fingerprint)));
    const unpairedGone = (fingerprint: string | undefined) =>
      required && (!fingerprint || !enrolled.has(normalizeFingerprint(fingerprint)));
    // Their sessions end first, attached or detached, so that their channels close while open.
    await this.options.registry.endWhere(
      (owner) =>
        owner.startsWith('console:')
          ? revoked.has(owner.slice('console:'.length))
          : owner.startsWith('fingerprint:') && unpairedGone(owner.slice('fingerprint:'.length)),
      required ? 'console revoked, or pairing now required' : 'console revoked',
    );
    const ended = [...this.negotiations.entries()].filter(([, n]) =>
      n.consoleId !== undefined ? revoked.has(n.consoleId) : unpairedGone(n.who.fingerprint),
    );
    await Promise.all(
      ended.map(async ([key, n]) => {
        const sessionId = key.slice(key.indexOf(':') + 1);
        this.negotiations.delete(key);
        if (n.consoleId !== undefined) {
          log.warn('revoked console disconnected', { negotiationId: sessionId, consoleId: n.consoleId, path: n.port.path });
          this.options.audit.record('console.revoked', { ...n.who, negotiationId: sessionId });
          void n.port.sendDisconnect({ sessionId, reason: `console ${n.consoleId} was revoked on this agent`, code: 'NOT_PAIRED' });
        } else {
          const reason = 'a console has paired with this agent: unpaired consoles are no longer served';
          log.warn('unpaired console disconnected: pairing is now required', { negotiationId: sessionId, path: n.port.path });
          this.options.audit.record('console.refused', { ...n.who, negotiationId: sessionId, code: 'NOT_PAIRED', reason });
          void n.port.sendDisconnect({ sessionId, reason, code: 'NOT_PAIRED' });
        }
        await n.peer?.close(n.consoleId !== undefined ? 'console revoked' : 'pairing now required');
      }),
    );
  }

  /** Ends every negotiation of one path (a LAN socket gone) or of all paths. */
  async closeAll(reason: string, port?: SignalingPort, options: { code?: ErrorCode; drainMs?: number } = {}): Promise<void> {
    const entries = [...this.negotiations.entries()].filter(([, n]) => !port || n.port === port);
    for (const [key] of entries) this.negotiations.delete(key);
    await Promise.all(
      entries.map(async ([key, n]) => {
        // A stopping agent lets what its sessions sent last reach the console before it closes.
        if (options.drainMs && n.peer) await n.peer.drained(options.drainMs);
        const told = n.port.sendDisconnect({
          sessionId: key.slice(key.indexOf(':') + 1),
          reason,
          ...(options.code ? { code: options.code } : {}),
        });
        // A stopping agent leaves the signaling server next: let the notice go out first (briefly).
        if (options.drainMs) await Promise.race([told, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        await n.peer?.close(reason);
      }),
    );
  }
}
