import type { TargetState } from '@tether/protocol';
import type { AgentConnection } from './agent-connection';
import { DisposableStore, Emitter, type Disposable } from './emitter';
import { describeKeys } from './input-ledger';
import type { NetworkPath } from './network-path';
import { isOpenFailure } from './open-failures';
import { randomId } from './random-id';
import { resumeBackoffMs, type ReconnectState } from './reconnect-policy';
import { SearchBar } from './search-bar';
import type { ResumeInfo } from './session-resumes';
import { bannerFor, formatBytes, formatDuration } from './tab-banner';
import { TabStatusView, type TabStage } from './tab-status-view';
import type { SessionError } from './terminal-session';
import { TerminalView, type TerminalViewOptions } from './terminal-view';
import { WebRtcTerminalSession } from './webrtc-terminal-session';

/**
 * `reconnecting`: the connection was lost and the shell waits on the agent; `gone`: a resume was
 * refused (agent restarted, grace period over, another console's session).
 */
export type TabState = 'opening' | 'open' | 'reconnecting' | 'gone' | 'exited' | 'failed' | 'closed';

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
 */
export class TerminalTab implements Disposable {
  readonly id = randomId(12);
  readonly agentId: string;
  readonly agentName: string;
  readonly target: string;
  readonly panel: HTMLElement;
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
  /** output arrived while the tab was in the background */
  activity = false;
  path: NetworkPath | undefined;
  targetState: TargetState | undefined;
  /** why the connection under the tab ended, when it did and the shell went with it */
  connectionLost: string | undefined;
  /** while reconnecting: since when, why, and the agent's reconnection */
  lost: { since: number; reason: string; state: ReconnectState | undefined } | undefined;
  /** resume attempts on the current loss (channel opened with `open {resume}`) */
  resumeAttempts = 0;
  /** keystroke bytes dropped while reconnecting, over the tab's life */
  droppedInput = 0;
  /** keystrokes sent just before a drop that never reached the shell, as text, one entry per resume */
  readonly undeliveredInput: string[] = [];
  private current: WebRtcTerminalSession | undefined;
  /** the connection the tab follows; a failed setup moves on to the agent's next one (app.ts) */
  followed: AgentConnection | undefined;
  private readonly status: TabStatusView;
  private readonly searchBar: SearchBar;
  private readonly store = new DisposableStore();
  private sessionStore = new DisposableStore();
  private connectionListener: Disposable | undefined;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastResumeAt = 0;
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
    this.panel = document.createElement('section');
    this.panel.className = 'tab-panel';
    this.panel.dataset.tabId = this.id;
    this.panel.setAttribute('role', 'tabpanel');
    this.status = new TabStatusView(() => this.reconnectEmitter.fire());
    const body = document.createElement('div');
    body.className = 'tab-body';
    this.panel.append(this.status.banner, body, this.status.statusLine);
    parent.append(this.panel);
    this.view = new TerminalView(body, viewOptions);
    this.searchBar = new SearchBar(this.view.search, () => this.view.focus());
    body.append(this.status.progress, this.searchBar.element);
    this.view.onActivity = () => {
      if (this.panel.hidden && !this.activity) {
        this.activity = true;
        this.changed();
      }
    };
    this.store.add({ dispose: () => (clearTimeout(this.resumeTimer), this.connectionListener?.dispose()) });
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

  get hasSession(): boolean {
    return this.current !== undefined;
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

  /** Shows the find bar over the terminal (Ctrl+Shift+F). */
  openSearch(): void {
    this.searchBar.open();
  }

  /** The connection failed before this tab had a shell: nothing was lost, so a retry may carry it on. */
  get setupFailed(): boolean {
    return this.connectionLost !== undefined && !this.current;
  }

  /** Whether closing the tab would end a running process (asks first). */
  get running(): boolean {
    return this.state === 'open' || this.state === 'reconnecting';
  }

  /** Follows `connection` through its stages and opens a new session on it once it is ready. */
  follow(connection: AgentConnection): void {
    this.sessionStore.dispose();
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    this.current?.dispose();
    this.current = undefined;
    this.state = 'opening';
    this.exitCode = undefined;
    this.sessionId = undefined;
    this.connectionLost = undefined;
    this.lost = undefined;
    this.watch(connection);
  }

  /** While reconnecting: resume the shell on `connection` once it is ready (again, with backoff, if a try fails). */
  resumeOn(connection: AgentConnection): void {
    if (this.state !== 'reconnecting') return;
    if (connection !== this.followed) this.watch(connection);
    else this.tryResume(connection);
  }

  /** While reconnecting: what the agent's reconnection is doing, for the banner. */
  setReconnect(state: ReconnectState | undefined): void {
    if (!this.lost) return;
    this.lost.state = state;
    this.render();
  }

  /** The agent could not be reached before it dropped the shell: the tab ends as a lost connection. */
  giveUp(reason: string): void {
    if (this.state !== 'reconnecting') return;
    this.current?.dispose();
    this.state = 'failed';
    this.connectionLost = reason;
    this.lost = undefined;
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

  setActive(active: boolean): void {
    this.panel.hidden = !active;
    if (active) {
      this.activity = false;
      this.view.fit();
      this.view.focus();
    }
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
    this.view.dispose();
    this.panel.remove();
    if (abandoned) this.abandonEmitter.fire(session);
    this.changeEmitter.dispose();
    this.reconnectEmitter.dispose();
    this.abandonEmitter.dispose();
  }

  private watch(connection: AgentConnection): void {
    this.connectionListener?.dispose();
    this.followed = connection;
    const onStage = () => {
      const stage = connection.stage;
      switch (stage.kind) {
        case 'idle':
        case 'signaling':
        case 'ice':
        case 'secure-channel':
          if (this.state === 'opening') this.stage = stage.kind === 'idle' ? 'signaling' : stage.kind;
          break;
        case 'ready':
          if (!this.current && this.state === 'opening') this.startSession(connection);
          else if (this.state === 'reconnecting') this.tryResume(connection);
          break;
        case 'failed':
        case 'closed':
          this.connectionEnded(stage.kind === 'failed' ? stage.reason : 'the connection was closed');
          break;
      }
      this.changed();
    };
    this.connectionListener = connection.onStage(onStage);
    onStage();
  }

  private connectionEnded(reason: string): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    const session = this.current;
    if (session?.resumable) session.detach(reason);
    else this.lose(reason);
  }

  private tryResume(connection: AgentConnection): void {
    const session = this.current;
    if (!session || this.state !== 'reconnecting' || this.resumeTimer !== undefined) return;
    if (connection.stage.kind !== 'ready' || !session.detached || session.resuming) return;
    const wait = Math.max(0, this.lastResumeAt + resumeBackoffMs(this.resumeAttempts) - Date.now());
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      if (this.current !== session || connection !== this.followed || connection.stage.kind !== 'ready') return;
      this.resumeAttempts += 1;
      this.lastResumeAt = Date.now();
      session.resume(() => connection.openTerminalChannel(randomId(12)));
      this.changed();
    }, this.resumeAttempts === 0 ? 0 : wait);
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
      if (this.state === 'reconnecting' && (error.code === 'SESSION_NOT_FOUND' || error.code === 'SESSION_FORBIDDEN' || isOpenFailure(error.code) || error.fatal)) {
        this.state = 'gone';
        this.lost = undefined;
      }
      const live = this.state === 'opening' || this.state === 'open';
      if (live && (error.fatal || (this.state === 'opening' && isOpenFailure(error.code)))) this.state = 'failed';
      this.changed();
    }));
    store.add(session.onClosed(() => {
      if (this.state === 'open' || this.state === 'opening' || this.state === 'reconnecting') this.state = 'closed';
      this.lost = undefined;
      this.changed();
    }));
    store.add(session.onDetached((reason) => {
      if (this.state !== 'reconnecting') {
        this.state = 'reconnecting';
        this.resumeAttempts = 0;
        this.lastResumeAt = 0;
        this.lost = { since: Date.now(), reason, state: undefined };
        this.view.notice(`[tether: connection lost (${reason}); reconnecting — input is paused]`);
      }
      this.changed();
      // Only the channel died: the same peer connection can carry the resume.
      const connection = this.followed;
      if (connection?.stage.kind === 'ready') this.tryResume(connection);
    }));
    store.add(session.onResumed((info) => {
      const after = this.lost ? formatDuration(Date.now() - this.lost.since) : '';
      this.state = 'open';
      this.lost = undefined;
      this.resumeAttempts = 0;
      if (info.lost > 0) this.view.notice(`[tether: ${formatBytes(info.lost)} bytes of output were lost while disconnected]`);
      this.view.notice(`[tether: reconnected after ${after}; the same shell goes on]`);
      const undelivered = info.undelivered;
      if (undelivered) {
        this.undeliveredInput.push(new TextDecoder().decode(undelivered.tail));
        const what = undelivered.bytes === 1 ? '1 byte' : `${formatBytes(undelivered.bytes)} bytes`;
        const was = undelivered.bytes === 1 ? 'was' : 'were';
        this.view.notice(`[tether: ${what} typed just before the drop never reached the shell and ${was} not sent again: ${describeKeys(undelivered.tail)}]`);
      }
      this.changed();
    }));
    store.add(session.onInputDropped((bytes) => {
      this.droppedInput += bytes;
      this.render();
    }));
    this.view.bind(session);
    session.start();
  }

  private lose(reason: string): void {
    if (this.connectionLost) return;
    this.connectionLost = reason;
    this.lost = undefined;
    const session = this.current;
    if (this.state === 'opening' || this.state === 'open' || this.state === 'reconnecting') this.state = 'failed';
    if (session) session.dispose();
  }

  private render(): void {
    const now = Date.now();
    this.status.showStage(this.state === 'opening' && !this.connectionLost ? this.stage : 'ready');
    this.status.showBanner(bannerFor({
      target: this.target,
      agentName: this.agentName,
      state: this.state,
      connectionLost: this.connectionLost,
      targetState: this.targetState,
      exitCode: this.exitCode,
      lastError: this.errors[this.errors.length - 1],
      reconnect: this.lost
        ? { ...this.lost, graceMs: this.current?.resumeGraceMs ?? 0, resumeAttempts: this.resumeAttempts, droppedInput: this.droppedInput }
        : undefined,
      now,
    }));
    const size = this.view.size;
    const stateText = this.connectionLost
      ? 'connection lost'
      : this.state === 'exited'
        ? `exited (${this.exitCode ?? 'unknown'})`
        : this.state === 'opening'
          ? `connecting: ${this.stage}`
          : this.state === 'reconnecting'
            ? `reconnecting · input paused · ${formatDuration(now - (this.lost?.since ?? now))}`
            : this.state === 'gone'
              ? 'shell gone'
              : this.state;
    this.status.showStatus({
      target: this.target,
      agentName: this.agentName,
      state: this.targetState && this.targetState !== 'running' ? `${stateText} · container ${this.targetState}` : stateText,
      path: this.state === 'open' ? this.path : undefined,
      size: `${size.cols}×${size.rows}`,
      renderer: this.view.renderer,
    });
    this.panel.dataset.state = this.state;
  }

  private changed(): void {
    const shown = this.state === 'open' ? 'ready' : this.stage;
    if (this.stageHistory[this.stageHistory.length - 1] !== shown) this.stageHistory.push(shown);
    this.render();
    this.changeEmitter.fire();
  }
}
