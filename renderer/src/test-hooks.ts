/**
 * `window.__tetherTest`, for the end-to-end tests: loaded by main.ts only with `test=1`, with a
 * dynamic import, so the product bundle's own code never calls it. What the hooks need to reach
 * below the tabs they get as test transports, wrapped around the product's parts rather than
 * built into them: a network whose paths can be cut (TestNetwork) and sessions whose raw channel
 * can be written to or closed (TappedSession).
 */
import { err, ok, protocolError } from '@tether/protocol';
import type { ConsoleApp, ConsoleTransports } from './app';
import type { NegotiationTransport } from './connection/negotiation-transport';
import type { AgentNetwork } from './devices/device-directory';
import type { RestoredSession, SessionCarrier, SessionError, TerminalSession } from './session/terminal-session';
import { WebRtcTerminalSession } from './session/webrtc-terminal-session';
import type { TabStage } from './tabs/tab-status-view';
import type { TransferFacts } from './transfer/file-transfer';

export interface TabSummary {
  id: string;
  agentId: string;
  target: string;
  title: string;
  active: boolean;
  state: string;
  /** while opening: signaling, ice, secure-channel, shell; then ready */
  stage: string;
  stageHistory: string[];
  exitCode: number | null | undefined;
  sessionId: string | undefined;
  lastError: SessionError | undefined;
  activity: boolean;
  path: 'direct' | 'relayed' | undefined;
  rttMs: number | undefined;
  targetState: string | undefined;
  connectionLost: string | undefined;
  renderer: 'webgl' | 'dom';
  /** output offset the session has taken: what a resume sends as `received` */
  sessionReceived: number;
  /** resumes that succeeded in this session, and what the last one said */
  resumeCount: number;
  lastResumed: { from: number; lost: number } | undefined;
  /** while reconnecting: the agent's reconnection attempts, and the tab's own resume attempts */
  reconnectAttempt: number | undefined;
  resumeAttempts: number;
  /** keystroke bytes dropped while reconnecting */
  droppedInput: number;
  /** keys sent just before a drop that never reached the shell, as text, one entry per resume that found some */
  undeliveredInput: string[];
  /** the agent's grace period for this tab's shell, 0 when it cannot be resumed */
  resumeGraceMs: number;
  /** the shell's host pid from the agent's `running`; undefined before it */
  hostPid: number | undefined;
}

export interface CaptureDigest {
  /** SHA-256 (hex) of the captured bytes with every '\r' removed, cut to the markers if given */
  sha256: string;
  length: number;
  /** false when a marker was given but not found */
  found: boolean;
}

/** `window.__tetherTest`: what the end-to-end tests read and drive; present only with `test=1` (`bench=1` adds the bench's). */
export interface TetherTestHooks {
  tabs(): TabSummary[];
  screen(tabId: string): string;
  size(tabId: string): { cols: number; rows: number };
  capture(tabId: string, on: boolean): void;
  captured(tabId: string): string;
  capturedLength(tabId: string): number;
  capturedSha256NoCR(tabId: string, begin?: string, end?: string): Promise<CaptureDigest>;
  received(tabId: string): number;
  acked(tabId: string): number;
  sendRaw(tabId: string, data: string | number): { ok: true } | { ok: false; error: string };
  errors(tabId: string): SessionError[];
  openTab(agentId: string, target: string): Promise<string>;
  activate(tabId: string): void;
  /** Closes the tab as its close button does, and drops its capture. */
  closeTab(tabId: string): void;
  /** Pairs as the dialog does; the agent's refusal comes back as a value. */
  pairWithToken(token: string): Promise<{ ok: true; agentId: string; name: string } | { ok: false; code: string; message: string }>;
  pairedAgents(): { agentId: string; name: string; fingerprint: string; consoleId: string; endpoints: string[] }[];
  consoleFingerprint(): string;
  /**
   * The network path to the agent dies: its peer connection is closed with no `close` and no
   * `webrtc:disconnect`, so the agent sees its channels die; reconnect attempts fail for
   * `outageMs`. False when the agent has no ready connection.
   */
  dropPath(agentId: string, outageMs: number): boolean;
  /** The tab's channel closes without `close`, the peer connection stays: the agent detaches the session. */
  dropChannel(tabId: string): void;
  /** Disconnects the agent as the device panel's Disconnect does. */
  disconnectAgent(agentId: string): Promise<void>;
  /** The console's own lines written into the tab's terminal (reconnect and loss notices), oldest first. */
  notices(tabId: string): string[];
  /** Shells of tabs closed while reconnecting that the console has yet to end on the agent. */
  abandonedSessions(): number;
  /** The tab's file transfers, finished ones until dismissed. */
  transfers(tabId: string): TransferFacts[];
}

class Capture {
  chunks: Uint8Array[] = [];
  length = 0;
  add(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.length += bytes.byteLength;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function withoutCR(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (const b of bytes) if (b !== 0x0d) out[n++] = b;
  return out.subarray(0, n);
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** A peer connection whose path the test network can cut: closed at once and reported failed, as a dead path is. */
class CuttablePeerConnection extends RTCPeerConnection {
  private cut = false;

  override get connectionState(): RTCPeerConnectionState {
    return this.cut ? 'failed' : super.connectionState;
  }

  cutPath(): void {
    this.cut = true;
    this.close();
    this.dispatchEvent(new Event('connectionstatechange'));
  }
}

/**
 * The network between the console and its agents, as the tests see it: a path to an agent can be
 * cut (its peer connection dies and the agent is told nothing, no `close` and no
 * `webrtc:disconnect`), and for a while after that new attempts to reach the agent fail.
 */
export class TestNetwork implements AgentNetwork {
  private readonly peers = new Map<string, CuttablePeerConnection>();
  /** negotiations whose path was cut: what they would tell the agent goes nowhere */
  private readonly silenced = new Set<string>();
  /** agents unreachable until a time (Date.now()) */
  private readonly outages = new Map<string, number>();

  peerConnection(config: RTCConfiguration, negotiationId: string): RTCPeerConnection {
    for (const [id, peer] of this.peers) if (peer.connectionState === 'closed') this.peers.delete(id);
    const peer = new CuttablePeerConnection(config);
    this.peers.set(negotiationId, peer);
    return peer;
  }

  signalingPath(path: NegotiationTransport): NegotiationTransport {
    return {
      get path() {
        return path.path;
      },
      register: (negotiationId, handlers) => path.register(negotiationId, handlers),
      sendOffer: async (msg) => {
        if (Date.now() >= (this.outages.get(msg.agentId) ?? 0)) return path.sendOffer(msg);
        this.silenced.add(msg.sessionId);
        return err(protocolError('AGENT_OFFLINE', 'the network is down (test hook)'));
      },
      sendIce: (msg) => path.sendIce(msg),
      sendDisconnect: async (msg) => (this.silenced.has(msg.sessionId) ? ok(undefined) : path.sendDisconnect(msg)),
    };
  }

  /** Cuts the ready connection `negotiationId` to `agentId`; attempts fail for `outageMs`. False when it has no live peer. */
  cut(agentId: string, negotiationId: string, outageMs: number): boolean {
    const peer = this.peers.get(negotiationId);
    if (!peer) return false;
    this.peers.delete(negotiationId);
    this.outages.set(agentId, Date.now() + outageMs);
    this.silenced.add(negotiationId);
    peer.cutPath();
    return true;
  }
}

/** `carrier`, telling `onChannel` each raw channel it opens. */
function tap(carrier: SessionCarrier, onChannel: (channel: RTCDataChannel) => void): SessionCarrier {
  return {
    openTerminalChannel: (tabId) => {
      const channel = carrier.openTerminalChannel(tabId);
      onChannel(channel);
      return channel;
    },
  };
}

/** The product's session, with the raw `tty:` channel it is on now in reach of the hooks. */
class TappedSession extends WebRtcTerminalSession {
  raw: RTCDataChannel | undefined;

  constructor(target: string, carrier: SessionCarrier, restored?: RestoredSession) {
    const holder: { session?: TappedSession } = {};
    super({
      target,
      carrier: tap(carrier, (channel) => holder.session && (holder.session.raw = channel)),
      ...(restored ? { restored } : {}),
    });
    holder.session = this;
  }

  override resume(carrier: SessionCarrier): void {
    super.resume(tap(carrier, (channel) => (this.raw = channel)));
  }
}

/** The raw channel of a tab's session: sends a frame as is, bypassing the protocol, or closes it as a dead path would. */
function rawChannel(session: TerminalSession): RTCDataChannel {
  const channel = session instanceof TappedSession ? session.raw : undefined;
  if (!channel || channel.readyState !== 'open') throw new Error('the terminal channel is not open');
  return channel;
}

/** What the console is built with under test: the test network and the tapped sessions. */
export function testTransports(): ConsoleTransports & { network: TestNetwork } {
  return { network: new TestNetwork(), sessions: (target, carrier, restored) => new TappedSession(target, carrier, restored) };
}

/** Every stage a tab has shown, in order, as the connection status tests read it. */
function recordStages(app: ConsoleApp): (tabId: string) => TabStage[] {
  const histories = new Map<string, TabStage[]>();
  app.tabs.onChange(() => {
    for (const tab of app.tabs.list()) {
      if (histories.has(tab.id)) continue;
      const history: TabStage[] = [];
      histories.set(tab.id, history);
      tab.onChange(() => {
        const shown = tab.state === 'open' ? 'ready' : tab.stage;
        if (history[history.length - 1] !== shown) history.push(shown);
      });
    }
  });
  return (tabId) => [...(histories.get(tabId) ?? [])];
}

export function installTestHooks(app: ConsoleApp, network: TestNetwork): TetherTestHooks {
  const captures = new Map<string, Capture>();
  const captureSubscriptions = new Map<string, { dispose(): void }>();
  const stageHistory = recordStages(app);
  const tab = (id: string) => {
    const found = app.tabs.get(id);
    if (!found) throw new Error(`no tab ${id}`);
    return found;
  };
  const hooks: TetherTestHooks = {
    tabs: () =>
      app.tabs.list().map((t) => ({
        id: t.id,
        agentId: t.agentId,
        target: t.target,
        title: t.title,
        active: app.tabs.active === t,
        state: t.state,
        stage: t.stage,
        stageHistory: stageHistory(t.id),
        exitCode: t.exitCode,
        sessionId: t.sessionId,
        lastError: t.errors[t.errors.length - 1],
        activity: t.panel.activity,
        path: t.path?.kind,
        rttMs: t.path?.rttMs,
        targetState: t.targetState,
        connectionLost: t.connectionLost,
        renderer: t.panel.view.renderer,
        sessionReceived: t.received,
        resumeCount: t.resumeInfo?.count ?? 0,
        lastResumed: t.resumeInfo ? { from: t.resumeInfo.from, lost: t.resumeInfo.lost } : undefined,
        reconnectAttempt: t.reconnection.agentAttempt,
        resumeAttempts: t.reconnection.resumeAttempts,
        droppedInput: t.reconnection.droppedInput,
        undeliveredInput: [...t.reconnection.undeliveredInput],
        resumeGraceMs: t.resumeGraceMs,
        hostPid: t.hostPid,
      })),
    screen: (id) => tab(id).panel.view.screenText(),
    size: (id) => tab(id).panel.view.size,
    capture: (id, on) => {
      const view = tab(id).panel.view;
      captureSubscriptions.get(id)?.dispose();
      captureSubscriptions.delete(id);
      if (on) {
        const capture = new Capture();
        captures.set(id, capture);
        captureSubscriptions.set(
          id,
          view.onOutput((bytes) => capture.add(bytes)),
        );
      }
    },
    captured: (id) => toBase64(captures.get(id)?.bytes() ?? new Uint8Array()),
    capturedLength: (id) => captures.get(id)?.length ?? 0,
    capturedSha256NoCR: async (id, begin, end) => {
      const all = withoutCR(captures.get(id)?.bytes() ?? new Uint8Array());
      const encoder = new TextEncoder();
      let start = 0;
      let stop = all.length;
      let found = true;
      if (begin !== undefined) {
        // A marker counts only as a whole line of output, never inside the echoed command.
        const marker = encoder.encode(`\n${begin}\n`);
        const at = indexOf(all, marker);
        found &&= at >= 0;
        start = at >= 0 ? at + marker.length : all.length;
      }
      if (end !== undefined) {
        const marker = encoder.encode(`${end}\n`);
        let at = indexOf(all, marker, start);
        while (at > start && all[at - 1] !== 0x0a) at = indexOf(all, marker, at + 1);
        found &&= at >= 0;
        stop = at >= 0 ? at : all.length;
      }
      const slice = all.slice(start, Math.max(start, stop));
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', slice));
      return { sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''), length: slice.length, found };
    },
    received: (id) => tab(id).panel.view.stats.received,
    acked: (id) => tab(id).panel.view.stats.acked,
    sendRaw: (id, data) => {
      try {
        const channel = rawChannel(tab(id).session);
        if (typeof data === 'number') channel.send(new Uint8Array(data).fill(0x61));
        else channel.send(data);
        return { ok: true };
      } catch (error) {
        return { ok: false, error: String(error) };
      }
    },
    errors: (id) => [...tab(id).errors],
    openTab: async (agentId, target) => app.openTab(agentId, target).id,
    activate: (id) => app.tabs.activate(id),
    closeTab: (id) => {
      captures.delete(id);
      captureSubscriptions.get(id)?.dispose();
      captureSubscriptions.delete(id);
      app.tabs.close(id);
    },
    pairWithToken: async (token) => {
      const result = await app.pair(token);
      return result.ok ? { ok: true, ...result.value } : { ok: false, code: result.error.code, message: result.error.message };
    },
    pairedAgents: () =>
      app.agents
        .pairedAgents()
        .map((a) => ({ agentId: a.agentId, name: a.name, fingerprint: a.fingerprint, consoleId: a.consoleId, endpoints: a.endpoints })),
    consoleFingerprint: () => app.consoleFingerprint,
    dropPath: (agentId, outageMs) => {
      const connection = app.agents.connection(agentId);
      if (connection?.stage.kind !== 'ready') return false;
      return network.cut(agentId, connection.negotiationId, outageMs);
    },
    dropChannel: (id) => {
      const session = tab(id).session;
      if (session instanceof TappedSession) session.raw?.close();
    },
    disconnectAgent: (agentId) => app.disconnectAgent(agentId),
    notices: (id) => [...tab(id).panel.view.notices],
    abandonedSessions: () => app.abandoned.size,
    transfers: (id) => app.tabs.transfersOf(id)?.list() ?? [],
  };
  (window as unknown as { __tetherTest: TetherTestHooks }).__tetherTest = hooks;
  return hooks;
}
