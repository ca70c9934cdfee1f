import type { ContainerFate, ErrorCode, TargetState } from '@tether/protocol';
import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import type { NetworkPath } from '../connection/network-path';
import type { ReconnectState } from '../connection/reconnect-policy';
import type { RestoredSession, ResumeInfo, SessionError, SessionFactory, TerminalSession } from '../session/terminal-session';
import type { ConfirmOptions } from '../ui/dialog';
import type { TransferContext } from '../transfer/tab-transfers';
import { FollowedConnection, type FollowableConnection } from './followed-connection';
import type { TabSurface } from './tab-panel';
import { TabReconnection } from './tab-reconnection';
import { isLive, stateOnError, type TabState } from './tab-state';
import type { TabStage } from './tab-status-view';

/** How long a restart the agent reported outweighs the device list's other states (terminal-tab's restartSettling). */
export const RESTART_SETTLE_MS = 10_000;

export interface TabTarget {
  agentId: string;
  agentName: string;
  /** the container, by name or id */
  target: string;
}

/**
 * One terminal tab: one session at a time on the agent connection it follows, and what it shows
 * of them on its panel. A lost connection is resumed on the agent's next one (same shell, missed
 * output replayed); Reconnect / Open a new session starts a new session in the same tab, below the
 * old output. The tab owns its state; it makes sessions with the factory it is given
 * (`webRtcSessions` in the product, an in-memory one in unit tests) and draws on its panel
 * (tab-panel.ts, or a stand-in in unit tests).
 */
export class TerminalTab<Panel extends TabSurface = TabSurface> implements Disposable {
  readonly id: string;
  readonly agentId: string;
  readonly agentName: string;
  readonly target: string;
  /** set by the user (rename); the title is derived from target and host otherwise */
  customTitle: string | undefined;
  state: TabState = 'opening';
  stage: TabStage = 'signaling';
  exitCode: number | null | undefined;
  /** what became of the container when the shell ended with it */
  containerFate: ContainerFate | undefined;
  sessionId: string | undefined;
  /** the shell's process id on the agent's host, from `running`; undefined until then, and from older agents */
  hostPid: number | undefined;
  readonly errors: SessionError[] = [];
  path: NetworkPath | undefined;
  targetState: TargetState | undefined;
  /** why the connection under the tab ended, when it did and the shell went with it */
  connectionLost: string | undefined;
  /** while reconnecting: the loss, the resume attempts, the input dropped */
  readonly reconnection = new TabReconnection();
  private current: TerminalSession | undefined;
  /** a session an earlier run of the console saved, taken back once the agent's connection is ready; until `deadline` */
  private restoring: { session: RestoredSession; deadline: number } | undefined;
  private readonly connection: FollowedConnection;
  private readonly store = new DisposableStore();
  /** keys were typed after the shell ended, and the tab said where they went (typedAfterEnd) */
  private toldTypedAfterEnd = false;
  /**
   * Set while the agent has said the container restarted and the device list has not yet said it
   * runs: the list's states may be from before the restart (they come on another channel, in no
   * order with the tab's `exit`), and read as news they turned "restarted" into "is exited" for a
   * moment. Cleared by `running`, or after RESTART_SETTLE_MS (a container that stays down).
   */
  private restartSettling: ReturnType<typeof setTimeout> | undefined;
  private sessionStore = new DisposableStore();
  private readonly changeEmitter = new Emitter<void>();
  private readonly reconnectEmitter = new Emitter<void>();
  private readonly abandonEmitter = new Emitter<TerminalSession>();
  /** Anything the tab shows changed: state, stage, banner, path. */
  readonly onChange = this.changeEmitter.event;
  /**
   * The tab closed while reconnecting: its shell still runs on the agent and `close` could not be
   * sent. The session is handed over (detached, unbound) for the app to end on the next connection.
   */
  readonly onAbandon = this.abandonEmitter.event;
  /** the user asked for a new session (Reconnect / Open a new session) */
  readonly onReconnect = this.reconnectEmitter.event;

  constructor(
    readonly panel: Panel,
    where: TabTarget,
    private readonly sessions: SessionFactory,
  ) {
    this.id = panel.tabId;
    this.agentId = where.agentId;
    this.agentName = where.agentName;
    this.target = where.target;
    this.store.add(panel.onAction(() => this.reconnectEmitter.fire()));
    this.store.add(panel.onActivity(() => this.changed()));
    this.store.add(panel.onInputRefused(() => this.typedAfterEnd()));
    this.store.add(this.reconnection.onNotice((line) => panel.notice(line)));
    this.store.add(this.reconnection.onAttempt(() => this.changed()));
    this.connection = new FollowedConnection();
    this.store.add(
      this.connection.onConnecting((stage) => {
        if (this.state === 'opening') this.stage = stage;
      }),
    );
    this.store.add(
      this.connection.onReady((connection) => {
        if (!this.current && this.state === 'opening') this.startSession(connection);
        else if (this.state === 'reconnecting' && !this.current && this.restoring) this.startSession(connection, this.restoring.session);
        else if (this.state === 'reconnecting') this.tryResume(connection);
      }),
    );
    this.store.add(this.connection.onEnded(({ reason, code }) => this.connectionEnded(reason, code)));
    this.store.add(this.connection.onStage(() => this.changed()));
    this.store.add(this.connection.onUnanswered(() => this.changed()));
    this.store.add(this.reconnection);
    this.store.add(this.connection);
    this.render();
  }

  get title(): string {
    return this.customTitle ?? `${this.target} @ ${this.agentName}`;
  }

  /** The live session; bench and test hooks use it once the tab has opened. */
  get session(): TerminalSession {
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
    if (this.current) return this.current.resumable ? this.current.resumeGraceMs : 0;
    return this.awaitingRestore ? this.restoring!.session.resumeGraceMs : 0;
  }

  /**
   * The shell a restarted console could take back, with since when the agent keeps it (now while
   * the session is open; since the loss while reconnecting); undefined when there is none.
   */
  get restorableSession(): (RestoredSession & { savedAt: number }) | undefined {
    const session = this.current;
    if (session) {
      if (!session.sessionId || !session.resumable) return undefined;
      const savedAt = this.state === 'reconnecting' ? (this.reconnection.since ?? Date.now()) : Date.now();
      return { sessionId: session.sessionId, resumeGraceMs: session.resumeGraceMs, savedAt };
    }
    const restoring = this.restoring;
    return restoring ? { ...restoring.session, savedAt: restoring.deadline - restoring.session.resumeGraceMs } : undefined;
  }

  /** Reopened after a console restart, the tab waits for its agent to take its shell back, while the agent may keep it. */
  get awaitingRestore(): boolean {
    return this.restoring !== undefined && Date.now() < this.restoring.deadline;
  }

  /**
   * The tab reopens a shell of an earlier run of the console (a reload, an Electron restart): it
   * waits, reconnecting, for the agent's connection, then takes the shell back with a resume;
   * the agent replays the output it holds. `savedAt`: when the earlier run last saw the shell.
   */
  restore(session: RestoredSession, savedAt: number): void {
    if (this.current || this.state !== 'opening') return;
    this.restoring = { session, deadline: savedAt + session.resumeGraceMs };
    this.state = 'reconnecting';
    this.reconnection.begin('the console restarted', { since: savedAt, restart: true });
    this.changed();
  }

  /**
   * The connection failed before this tab had a shell (none asked for, or `opened` never came):
   * nothing was lost, so a retry may carry it on (app.ts follows the agent's next connection).
   */
  get setupFailed(): boolean {
    return this.connectionLost !== undefined && this.sessionId === undefined;
  }

  /** the connection the tab follows; a failed setup moves on to the agent's next one (app.ts) */
  /**
   * What the tab's file transfers need while its shell is open (transfer/tab-transfers.ts): the
   * session they belong to and a way to open their channels on the tab's connection.
   */
  transferContext(): TransferContext | undefined {
    const connection = this.followed;
    if (this.state !== 'open' || !this.sessionId || connection?.stage.kind !== 'ready' || !connection.openFileChannel) return undefined;
    const open = connection.openFileChannel.bind(connection);
    return { sessionId: this.sessionId, openChannel: (id) => open(id), supported: connection.transfersSupported === true };
  }

  get followed(): FollowableConnection | undefined {
    return this.connection.connection;
  }

  /**
   * How long a ping to the agent under the open shell has gone unanswered, once past the
   * keepalive's notice: the agent may be frozen, and the tab says so before the connection counts
   * as lost. Undefined otherwise.
   */
  get unansweredMs(): number | undefined {
    return this.state === 'open' ? this.connection.unansweredMs : undefined;
  }

  /** Keys typed into a tab whose shell has ended go nowhere: said once per ending, not per key. */
  private typedAfterEnd(): void {
    if (this.toldTypedAfterEnd || this.live || this.state === 'closed') return;
    this.toldTypedAfterEnd = true;
    this.panel.notice('[the shell has ended: what is typed here goes nowhere; the button above opens a new shell]');
  }

  /** Whether the tab's shell runs, waits to be taken back, or is being opened: not exited, gone, failed or closed. */
  get live(): boolean {
    return isLive(this.state);
  }

  /** Whether closing the tab would end a running process (asks first). */
  get running(): boolean {
    return this.state === 'open' || this.state === 'reconnecting';
  }

  /** What to ask before closing the tab; undefined when closing ends nothing that runs. */
  get closeQuestion(): ConfirmOptions | undefined {
    if (!this.running) return undefined;
    return {
      title: `Close ${this.title}?`,
      message: `The shell in ${this.target} on ${this.agentName} is still running. Closing the tab ends it and every program it started.`,
      accept: 'Close tab',
    };
  }

  /** Writes one of the console's own lines into the terminal. */
  notice(line: string): void {
    this.panel.notice(line);
  }

  /** Follows `connection` through its stages and opens a new session on it once it is ready. */
  follow(connection: FollowableConnection): void {
    this.sessionStore.dispose();
    this.reconnection.end();
    this.current?.dispose();
    this.current = undefined;
    this.state = 'opening';
    this.exitCode = undefined;
    this.toldTypedAfterEnd = false;
    this.containerFate = undefined;
    this.sessionId = undefined;
    this.connectionLost = undefined;
    this.connection.follow(connection);
  }

  /** While reconnecting: resume the shell on `connection` once it is ready (again, with backoff, if a try fails). */
  resumeOn(connection: FollowableConnection): void {
    if (this.state !== 'reconnecting') return;
    if (connection === this.followed) return this.tryResume(connection);
    this.reconnection.cancel();
    this.connection.follow(connection);
  }

  /** While reconnecting: what the agent's reconnection is doing, for the banner. */
  setReconnect(state: ReconnectState | undefined): void {
    if (this.reconnection.setAgentState(state)) this.render();
  }

  /** The agent could not be reached before it dropped the shell: the tab ends as a lost connection. */
  giveUp(reason: string): void {
    if (this.state !== 'reconnecting') return;
    this.restoring = undefined;
    this.current?.dispose();
    this.state = 'failed';
    this.connectionLost = reason;
    this.reconnection.end();
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
    if (state === 'running') this.restartSettled();
    this.changed();
  }

  private settleRestart(): void {
    clearTimeout(this.restartSettling);
    this.restartSettling = setTimeout(() => {
      this.restartSettled();
      this.changed();
    }, RESTART_SETTLE_MS);
  }

  private restartSettled(): void {
    clearTimeout(this.restartSettling);
    this.restartSettling = undefined;
  }

  /** Re-renders time-dependent text (the reconnecting banner's clock). */
  tick(): void {
    if (this.state === 'reconnecting') this.render();
  }

  dispose(): void {
    this.restartSettled();
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
  private connectionEnded(reason: string, code: ErrorCode | undefined): void {
    this.reconnection.cancel();
    const session = this.current;
    // Still waiting to take back a shell of the console's earlier run: the next connection may.
    if (!session && this.awaitingRestore && code !== 'AGENT_STOPPED') return;
    if (code === 'AGENT_STOPPED' && session && isLive(this.state)) {
      this.errors.push({ code: 'AGENT_STOPPED', message: reason, fatal: true });
      this.reconnection.end();
      this.state = 'failed';
      session.dispose();
      return;
    }
    if (session?.resumable) return session.detach(reason);
    if (this.connectionLost) return;
    this.connectionLost = reason;
    this.reconnection.end();
    if (isLive(this.state)) this.state = 'failed';
    session?.dispose();
  }

  private tryResume(connection: FollowableConnection): void {
    const session = this.current;
    if (session && this.state === 'reconnecting') this.reconnection.schedule(session, connection);
  }

  private startSession(connection: FollowableConnection, restored?: RestoredSession): void {
    if (!restored) this.stage = 'shell';
    this.sessionStore.dispose();
    const store = (this.sessionStore = new DisposableStore());
    const session = this.sessions(this.target, connection, restored);
    this.current = session;
    store.add(
      session.onOpened((opened) => {
        // The agent's notices (typing is recorded; what it could not apply to the shell): shown, not missed.
        for (const notice of opened.notices ?? []) this.panel.notice(notice, 'warning');
        this.sessionId = opened.sessionId;
        this.state = 'open';
        this.stage = 'ready';
        this.changed();
      }),
    );
    store.add(
      session.onRunning((running) => {
        // What the agent could not apply to the shell, from an agent that says it once the shell runs.
        for (const notice of running.notices ?? []) this.panel.notice(notice, 'warning');
        this.hostPid = running.hostPid;
        this.changed();
      }),
    );
    store.add(
      session.onExit((exit) => {
        this.exitCode = exit.code;
        this.containerFate = exit.container;
        this.state = 'exited';
        if (exit.container === 'restarted') this.settleRestart();
        this.changed();
      }),
    );
    store.add(
      session.onError((error) => {
        this.errors.push(error);
        this.state = stateOnError(this.state, error);
        if (this.state === 'gone') this.reconnection.end();
        this.changed();
      }),
    );
    store.add(
      session.onClosed(() => {
        if (isLive(this.state)) this.state = 'closed';
        this.reconnection.end();
        this.changed();
      }),
    );
    store.add(
      session.onDetached((reason) => {
        this.state = 'reconnecting';
        this.reconnection.begin(reason);
        this.changed();
        // Only the channel died: the same peer connection can carry the resume.
        const followed = this.followed;
        if (followed?.stage.kind === 'ready') this.tryResume(followed);
      }),
    );
    store.add(
      session.onResumed((info) => {
        this.sessionId = session.sessionId;
        this.state = 'open';
        this.reconnection.resumed(info);
        this.changed();
      }),
    );
    store.add(
      session.onInputDropped((bytes) => {
        this.reconnection.inputDropped(bytes);
        this.render();
      }),
    );
    this.panel.bind(session);
    if (!restored) return session.start();
    this.restoring = undefined;
    this.tryResume(connection);
  }

  private render(): void {
    this.panel.show({
      target: this.target,
      agentName: this.agentName,
      state: this.state,
      stage: this.stage,
      connectionLost: this.connectionLost,
      // The list's state is not news while a restart the agent reported settles (restartSettling).
      targetState: this.restartSettling ? undefined : this.targetState,
      exitCode: this.exitCode,
      containerFate: this.containerFate,
      lastError: this.errors[this.errors.length - 1],
      sessionOpened: this.sessionId !== undefined,
      reconnect: this.reconnection.bannerFacts(this.current?.resumeGraceMs ?? 0),
      path: this.path,
      unansweredMs: this.unansweredMs,
      now: Date.now(),
    });
  }

  private changed(): void {
    this.render();
    this.changeEmitter.fire();
  }
}
