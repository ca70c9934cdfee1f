import type { ErrorCode, TargetState } from '@tether/protocol';
import type { AgentConnection } from './agent-connection';
import { DisposableStore, Emitter, type Disposable } from './emitter';
import { FollowedConnection } from './followed-connection';
import type { NetworkPath } from './network-path';
import { randomId } from './random-id';
import type { ReconnectState } from './reconnect-policy';
import type { ResumeInfo } from './session-resumes';
import { TabPanel } from './tab-panel';
import { TabReconnection } from './tab-reconnection';
import { TabTransfers } from './transfer/tab-transfers';
import { isLive, stateOnError, type TabState } from './tab-state';
import type { TabStage } from './tab-status-view';
import type { SessionError } from './terminal-session';
import type { TerminalView, TerminalViewOptions } from './terminal-view';
import { WebRtcTerminalSession } from './webrtc-terminal-session';

export interface TabTarget {
  agentId: string;
  agentName: string;
  /** the container, by name or id */
  target: string;
}

/**
 * One terminal tab: a panel with its terminal, its connection status and one session at a time.
 * A lost connection is resumed on the agent's next one (same shell, missed output replayed);
 * Reconnect / Open a new session starts a new session in the same tab, below the old output.
 * The tab owns the state; its panel (tab-panel.ts), the connection it follows
 * (followed-connection.ts) and its reconnection (tab-reconnection.ts) each do one part.
 */
export class TerminalTab implements Disposable {
  readonly id = randomId(12);
  readonly agentId: string;
  readonly agentName: string;
  readonly target: string;
  readonly panel: TabPanel;
  readonly view: TerminalView;
  /** set by the user (rename); the title is derived from target and host otherwise */
  customTitle: string | undefined;
  state: TabState = 'opening';
  stage: TabStage = 'signaling';
  /** every stage this tab has shown, in order, for the status tests */
  readonly stageHistory: TabStage[] = [];
  exitCode: number | null | undefined;
  sessionId: string | undefined;
  errors: SessionError[] = [];
  path: NetworkPath | undefined;
  targetState: TargetState | undefined;
  /** why the connection under the tab ended, when it did and the shell went with it */
  connectionLost: string | undefined;
  /** while reconnecting: the loss, the resume attempts, the input dropped (test hooks read it) */
  readonly reconnection: TabReconnection;
  /** files in and out of the tab's container, over the tab's connection */
  readonly transfers: TabTransfers;
  private current: WebRtcTerminalSession | undefined;
  private readonly connection: FollowedConnection;
  private readonly store = new DisposableStore();
  private sessionStore = new DisposableStore();
  private readonly changeEmitter = new Emitter<void>();
  private readonly reconnectEmitter = new Emitter<void>();
  private readonly abandonEmitter = new Emitter<WebRtcTerminalSession>();
  readonly onChange = this.changeEmitter.event;
  /**
   * The tab closed while reconnecting: its shell still runs on the agent and `close` could not be
   * sent. The session is handed over (detached, unbound) for the app to end on the next connection.
   */
  readonly onAbandon = this.abandonEmitter.event;
  /** the user asked for a new session (Reconnect / Open a new session) */
  readonly onReconnect = this.reconnectEmitter.event;

  constructor(parent: HTMLElement, where: TabTarget, viewOptions: TerminalViewOptions) {
    this.agentId = where.agentId;
    this.agentName = where.agentName;
    this.target = where.target;
    this.panel = new TabPanel(parent, this.id, viewOptions, { action: () => this.reconnectEmitter.fire(), activity: () => this.changed() });
    this.view = this.panel.view;
    this.reconnection = new TabReconnection((line) => this.view.notice(line));
    this.connection = new FollowedConnection({
      connecting: (stage) => {
        if (this.state === 'opening') this.stage = stage;
      },
      ready: (connection) => {
        if (!this.current && this.state === 'opening') this.startSession(connection);
        else if (this.state === 'reconnecting') this.tryResume(connection);
      },
      ended: (reason, code) => this.connectionEnded(reason, code),
      changed: () => this.changed(),
    });
    this.transfers = new TabTransfers(this.panel.body, this.target, () => {
      const connection = this.followed;
      if (this.state !== 'open' || !this.sessionId || connection?.stage.kind !== 'ready') return undefined;
      return { sessionId: this.sessionId, openChannel: (id) => connection.openFileChannel(id), supported: connection.transfersSupported };
    });
    this.store.add({ dispose: () => (this.transfers.dispose(), this.reconnection.dispose(), this.connection.dispose()) });
    this.render();
  }

  get title(): string {
    return this.customTitle ?? `${this.target} @ ${this.agentName}`;
  }

  /** The live session; bench and test hooks use it once the tab has opened. */
  get session(): WebRtcTerminalSession {
    if (!this.current) throw new Error(`tab ${this.id} has no session yet (stage ${this.stage})`);
    return this.current;
  }

  /** Output offset the session has taken (what a resume asks from), 0 without a session. */
  get received(): number {
    return this.current?.received ?? 0;
  }

  get resumeInfo(): ResumeInfo | undefined {
    return this.current?.resumeInfo;
  }

  /** How long the agent keeps this tab's shell after a loss; 0 when it cannot be resumed. */
  get resumeGraceMs(): number {
    return this.current?.resumable ? this.current.resumeGraceMs : 0;
  }

  /** The connection failed before this tab had a shell: nothing was lost, so a retry may carry it on. */
  get setupFailed(): boolean {
    return this.connectionLost !== undefined && !this.current;
  }

  /** the connection the tab follows; a failed setup moves on to the agent's next one (app.ts) */
  get followed(): AgentConnection | undefined {
    return this.connection.connection;
  }

  /** Whether closing the tab would end a running process (asks first). */
  get running(): boolean {
    return this.state === 'open' || this.state === 'reconnecting';
  }

  /** Follows `connection` through its stages and opens a new session on it once it is ready. */
  follow(connection: AgentConnection): void {
    this.sessionStore.dispose();
    this.reconnection.cancel();
    this.current?.dispose();
    this.current = undefined;
    this.state = 'opening';
    this.exitCode = undefined;
    this.sessionId = undefined;
    this.connectionLost = undefined;
    this.reconnection.lost = undefined;
    this.connection.follow(connection);
  }

  /** While reconnecting: resume the shell on `connection` once it is ready (again, with backoff, if a try fails). */
  resumeOn(connection: AgentConnection): void {
    if (this.state !== 'reconnecting') return;
    if (connection !== this.followed) this.connection.follow(connection);
    else this.tryResume(connection);
  }

  /** While reconnecting: what the agent's reconnection is doing, for the banner. */
  setReconnect(state: ReconnectState | undefined): void {
    if (this.reconnection.setAgentState(state)) this.render();
  }

  /** The agent could not be reached before it dropped the shell: the tab ends as a lost connection. */
  giveUp(reason: string): void {
    if (this.state !== 'reconnecting') return;
    this.current?.dispose();
    this.state = 'failed';
    this.connectionLost = reason;
    this.reconnection.lost = undefined;
    this.changed();
  }

  /** Ends the session deliberately (`close` goes to the agent); resolves once it has closed. */
  endSession(): Promise<void> {
    const session = this.current;
    if (!session) return Promise.resolve();
    const closed = new Promise<void>((resolve) => session.onClosed(() => resolve()));
    session.close();
    return session.hasClosed ? Promise.resolve() : closed;
  }

  setPath(path: NetworkPath | undefined): void {
    this.path = path;
    this.render();
  }

  setTargetState(state: TargetState | undefined): void {
    if (state === this.targetState) return;
    this.targetState = state;
    this.changed();
  }

  /** Re-renders time-dependent text (the reconnecting banner's clock). */
  tick(): void {
    if (this.state === 'reconnecting') this.render();
  }

  dispose(): void {
    const session = this.current;
    this.current = undefined;
    this.state = 'closed';
    const abandoned = session?.detached === true && session.resumable;
    if (!abandoned) session?.close();
    this.sessionStore.dispose();
    this.store.dispose();
    this.panel.dispose();
    if (abandoned) this.abandonEmitter.fire(session);
    this.changeEmitter.dispose();
    this.reconnectEmitter.dispose();
    this.abandonEmitter.dispose();
  }

  /**
   * A resumable shell waits on the agent (detached); any other ends with the connection, once. The
   * agent's stop notice (AGENT_STOPPED) ends the tab at once: the agent ended the shell before it
   * closed the connection, so there is nothing to wait for.
   */
  private connectionEnded(reason: string, code?: ErrorCode): void {
    this.reconnection.cancel();
    if (code === 'AGENT_STOPPED' && this.current && isLive(this.state)) return this.agentStopped(reason);
    const session = this.current;
    if (session?.resumable) return session.detach(reason);
    if (this.connectionLost) return;
    this.connectionLost = reason;
    this.reconnection.lost = undefined;
    if (isLive(this.state)) this.state = 'failed';
    if (session) session.dispose();
  }

  /** The agent stopped and ended this tab's shell (opening, open or waiting on a resume): the tab says so. */
  private agentStopped(reason: string): void {
    if (!this.current) return;
    this.errors.push({ code: 'AGENT_STOPPED', message: reason, fatal: true });
    this.reconnection.lost = undefined;
    this.state = 'failed';
    this.current.dispose();
  }

  private tryResume(connection: AgentConnection): void {
    const session = this.current;
    if (!session || this.state !== 'reconnecting') return;
    this.reconnection.schedule(session, connection, () => this.current === session && connection === this.followed, () => this.changed());
  }

  private startSession(connection: AgentConnection): void {
    this.stage = 'shell';
    this.sessionStore.dispose();
    const store = (this.sessionStore = new DisposableStore());
    const session = new WebRtcTerminalSession({ target: this.target, openChannel: () => connection.openTerminalChannel(randomId(12)) });
    this.current = session;
    store.add(session.onOpened((opened) => {
      this.sessionId = opened.sessionId;
      this.state = 'open';
      this.stage = 'ready';
      this.changed();
    }));
    store.add(session.onExit((code) => {
      this.exitCode = code;
      this.state = 'exited';
      this.changed();
    }));
    store.add(session.onError((error) => {
      this.errors.push(error);
      const next = stateOnError(this.state, error);
      if (next === 'gone' && this.state === 'reconnecting') this.reconnection.lost = undefined;
      this.state = next;
      this.changed();
    }));
    store.add(session.onClosed(() => {
      if (isLive(this.state)) this.state = 'closed';
      this.reconnection.lost = undefined;
      this.changed();
    }));
    store.add(session.onDetached((reason) => {
      if (this.state !== 'reconnecting') {
        this.state = 'reconnecting';
        this.reconnection.begin(reason);
      }
      this.changed();
      // Only the channel died: the same peer connection can carry the resume.
      const connection = this.followed;
      if (connection?.stage.kind === 'ready') this.tryResume(connection);
    }));
    store.add(session.onResumed((info) => {
      this.state = 'open';
      this.reconnection.resumed(info);
      this.changed();
    }));
    store.add(session.onInputDropped((bytes) => {
      this.reconnection.droppedInput += bytes;
      this.render();
    }));
    this.view.bind(session);
    session.start();
  }

  private render(): void {
    this.panel.show({
      target: this.target,
      agentName: this.agentName,
      state: this.state,
      stage: this.stage,
      connectionLost: this.connectionLost,
      targetState: this.targetState,
      exitCode: this.exitCode,
      lastError: this.errors[this.errors.length - 1],
      reconnect: this.reconnection.bannerFacts(this.current?.resumeGraceMs ?? 0),
      path: this.path,
      now: Date.now(),
    });
  }

  private changed(): void {
    const shown = this.state === 'open' ? 'ready' : this.stage;
    if (this.stageHistory[this.stageHistory.length - 1] !== shown) this.stageHistory.push(shown);
    this.render();
    this.changeEmitter.fire();
  }
}
