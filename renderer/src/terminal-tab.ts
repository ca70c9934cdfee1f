import type { TargetState } from '@tether/protocol';
import type { AgentConnection } from './agent-connection';
import { DisposableStore, Emitter, type Disposable } from './emitter';
import { hintFor } from './error-hints';
import type { NetworkPath } from './network-path';
import { randomId } from './random-id';
import { SearchBar } from './search-bar';
import { TabStatusView, type TabStage } from './tab-status-view';
import type { SessionError } from './terminal-session';
import { TerminalView, type TerminalViewOptions } from './terminal-view';
import { WebRtcTerminalSession, isOpenFailure } from './webrtc-terminal-session';

export type TabState = 'opening' | 'open' | 'exited' | 'failed' | 'closed';

export interface TabTarget {
  agentId: string;
  agentName: string;
  /** the container, by name or id */
  target: string;
}

/**
 * One terminal tab: a panel with its terminal, its connection status and one session at a time.
 * Reconnect starts a new session in the same tab; the old output stays readable above it.
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
  /** why the connection under the tab ended, when it did */
  connectionLost: string | undefined;
  private current: WebRtcTerminalSession | undefined;
  /** the connection the tab follows; a failed setup moves on to the agent's next one (app.ts) */
  followed: AgentConnection | undefined;
  private readonly status: TabStatusView;
  private readonly searchBar: SearchBar;
  private readonly store = new DisposableStore();
  private following = new DisposableStore();
  private readonly changeEmitter = new Emitter<void>();
  private readonly reconnectEmitter = new Emitter<void>();
  readonly onChange = this.changeEmitter.event;
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
    return this.state === 'open';
  }

  /** Follows `connection` through its stages and opens a session on it once it is ready. */
  follow(connection: AgentConnection): void {
    this.following.dispose();
    this.following = this.store.add(new DisposableStore());
    this.followed = connection;
    this.current?.dispose();
    this.current = undefined;
    this.state = 'opening';
    this.exitCode = undefined;
    this.sessionId = undefined;
    this.connectionLost = undefined;
    const onStage = () => {
      const stage = connection.stage;
      switch (stage.kind) {
        case 'idle':
        case 'signaling':
        case 'ice':
        case 'secure-channel':
          this.stage = stage.kind === 'idle' ? 'signaling' : stage.kind;
          break;
        case 'ready':
          if (!this.current) this.startSession(connection);
          break;
        case 'failed':
        case 'closed':
          this.lose(stage.kind === 'failed' ? stage.reason : 'the connection was closed');
          break;
      }
      this.changed();
    };
    this.following.add(connection.onStage(onStage));
    onStage();
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

  dispose(): void {
    this.current?.close();
    this.current = undefined;
    this.state = 'closed';
    this.store.dispose();
    this.view.dispose();
    this.panel.remove();
    this.changeEmitter.dispose();
    this.reconnectEmitter.dispose();
  }

  private startSession(connection: AgentConnection): void {
    this.stage = 'shell';
    const session = new WebRtcTerminalSession({ target: this.target, openChannel: () => connection.openTerminalChannel(randomId(12)) });
    this.current = session;
    const store = this.following;
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
      const live = this.state === 'opening' || this.state === 'open';
      if (live && (error.fatal || (this.state === 'opening' && isOpenFailure(error.code)))) this.state = 'failed';
      this.changed();
    }));
    store.add(session.onClosed(() => {
      if (this.state === 'open' || this.state === 'opening') this.state = 'closed';
      this.changed();
    }));
    this.view.bind(session);
    session.start();
  }

  private lose(reason: string): void {
    if (this.connectionLost) return;
    this.connectionLost = reason;
    const session = this.current;
    if (this.state === 'opening' || this.state === 'open') this.state = 'failed';
    if (session) session.dispose();
  }

  private banner(): Parameters<TabStatusView['showBanner']>[0] {
    const where = `${this.target} on ${this.agentName}`;
    if (this.connectionLost) {
      return {
        kind: 'error',
        title: `Connection to ${this.agentName} lost`,
        detail: `${this.connectionLost}. Check that the agent is running on its host and reachable, then Reconnect (this opens a new shell: the old one ended with the connection).`,
        action: 'Reconnect',
      };
    }
    const stopped = this.targetState !== undefined && this.targetState !== 'running';
    if (this.state === 'exited' || (stopped && this.state !== 'opening')) {
      const code = this.exitCode === undefined ? '' : ` (exit code ${this.exitCode ?? 'unknown'})`;
      return stopped
        ? { kind: 'exit', title: `Container ${this.target} is ${this.targetState}`, detail: `The shell ended${code}. Start the container on the host, then open a new session.`, action: 'Open a new session' }
        : { kind: 'exit', title: `The shell exited${code}`, detail: `The output stays readable here.`, action: 'Open a new session' };
    }
    if (this.state === 'failed' || this.state === 'closed') {
      const last = this.errors[this.errors.length - 1];
      const hint = last ? hintFor(last) : undefined;
      return {
        kind: 'error',
        title: last ? `Could not open ${where}: ${last.code}` : `The session in ${where} ended`,
        detail: `${last?.message ?? 'the terminal channel closed'}${hint ? ` — ${hint}` : ''}`,
        action: 'Reconnect',
      };
    }
    return undefined;
  }

  private render(): void {
    this.status.showStage(this.state === 'opening' && !this.connectionLost ? this.stage : 'ready');
    this.status.showBanner(this.banner());
    const size = this.view.size;
    const stateText = this.connectionLost
      ? 'connection lost'
      : this.state === 'exited'
        ? `exited (${this.exitCode ?? 'unknown'})`
        : this.state === 'opening'
          ? `connecting: ${this.stage}`
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
