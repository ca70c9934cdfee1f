import { DisposableStore, Emitter, type Disposable, type Event } from '../base/emitter';
import type { NetworkPath } from '../connection/network-path';
import type { TerminalSession } from '../session/terminal-session';
import { SearchBar } from '../terminal/search-bar';
import { unansweredText } from '../connection/keepalive';
import { bannerFor, formatDuration, type BannerFacts } from './tab-banner';
import { TabStatusView, type TabStage } from './tab-status-view';
import { TerminalView, type TerminalViewOptions } from '../terminal/terminal-view';
import type { PaneRect } from './pane-layout';

/** What the panel shows of its tab: the banner's facts, the stage while connecting, the network path. */
export interface TabFacts extends BannerFacts {
  stage: TabStage;
  path: NetworkPath | undefined;
  /** how long a ping to the agent has gone unanswered, once past the keepalive's notice */
  unansweredMs: number | undefined;
}

/** What a tab draws on: its panel in the page (TabPanel), or a stand-in that records in unit tests. */
export interface TabSurface extends Disposable {
  readonly tabId: string;
  /** the banner's button was pressed: Reconnect / Open a new session */
  readonly onAction: Event<void>;
  /** output arrived while the panel was hidden (`activity` turned true) */
  readonly onActivity: Event<void>;
  /** the user typed into the terminal while no session took input */
  readonly onInputRefused: Event<void>;
  /** Draws the tab's facts: stages, banner, status line. */
  show(facts: TabFacts): void;
  /** Writes one of the console's own lines into the terminal (not the remote process's output); `warning` for what the user must not miss. */
  notice(line: string, tone?: 'dim' | 'warning'): void;
  /** The terminal shows `session` from now on: its output in, the keys out. */
  bind(session: TerminalSession): void;
}

/**
 * A tab's panel in the page: its terminal, its find bar, and its status (stages, banner, status
 * line) drawn from the tab's facts. It knows nothing of connections, and of sessions only what
 * the terminal binds to: the tab decides.
 */
export class TabPanel implements TabSurface {
  readonly element: HTMLElement;
  readonly view: TerminalView;
  /** the area of the terminal, where overlays (find bar, transfers) go */
  readonly body: HTMLElement;
  /** output arrived while the tab was in the background */
  activity = false;
  private readonly status: TabStatusView;
  private readonly searchBar: SearchBar;
  private readonly broadcastLabel: HTMLElement;
  private readonly unansweredLabel: HTMLElement;
  private lastFacts: TabFacts | undefined;
  private readonly store = new DisposableStore();
  private readonly actionEmitter = new Emitter<void>();
  private readonly activityEmitter = new Emitter<void>();
  readonly onAction = this.actionEmitter.event;
  readonly onActivity = this.activityEmitter.event;
  get onInputRefused() {
    return this.view.onInputRefused;
  }

  constructor(
    parent: HTMLElement,
    readonly tabId: string,
    viewOptions: TerminalViewOptions,
  ) {
    this.element = document.createElement('section');
    this.element.className = 'tab-panel';
    this.element.dataset.tabId = tabId;
    this.element.setAttribute('role', 'tabpanel');
    this.status = new TabStatusView(() => this.actionEmitter.fire());
    const body = document.createElement('div');
    body.className = 'tab-body';
    this.body = body;
    this.broadcastLabel = document.createElement('div');
    this.broadcastLabel.className = 'tab-broadcast';
    this.broadcastLabel.dataset.testid = 'tab-broadcast';
    this.broadcastLabel.hidden = true;
    // In a corner over the terminal, like the find bar: it comes and goes without moving anything.
    this.unansweredLabel = document.createElement('div');
    this.unansweredLabel.className = 'tab-unanswered';
    this.unansweredLabel.dataset.testid = 'tab-unanswered';
    this.unansweredLabel.setAttribute('role', 'status');
    this.unansweredLabel.hidden = true;
    this.element.append(this.status.banner, body, this.status.statusLine);
    parent.append(this.element);
    this.view = new TerminalView(body, viewOptions);
    this.searchBar = new SearchBar(this.view.search, () => this.view.focus());
    body.append(this.broadcastLabel, this.unansweredLabel, this.status.progress, this.searchBar.element);
    this.store.add(this.view.onResize((size) => this.status.showSize(size)));
    this.store.add(
      this.view.onOutput(() => {
        if (this.element.hidden && !this.activity) {
          this.activity = true;
          this.activityEmitter.fire();
        }
      }),
    );
  }

  notice(line: string, tone: 'dim' | 'warning' = 'dim'): void {
    this.view.notice(line, tone);
  }

  bind(session: TerminalSession): void {
    this.view.bind(session);
  }

  /** Shows the find bar over the terminal (Ctrl+Shift+F). */
  openSearch(): void {
    this.searchBar.open();
  }

  setActive(active: boolean): void {
    this.place(active ? { left: 0, top: 0, width: 1, height: 1 } : undefined, active);
  }

  /**
   * Shows the panel at `rect` of the panels' area (a pane of a split, or all of it), or hides it;
   * the focused one takes the keyboard.
   */
  place(rect: PaneRect | undefined, focused: boolean): void {
    this.element.hidden = !rect;
    if (!rect) return;
    const whole = rect.width === 1 && rect.height === 1;
    this.element.classList.toggle('in-split', !whole);
    this.element.classList.toggle('focused-pane', !whole && focused);
    Object.assign(
      this.element.style,
      whole
        ? { left: '', top: '', width: '', height: '' }
        : {
            left: `${rect.left * 100}%`,
            top: `${rect.top * 100}%`,
            width: `${rect.width * 100}%`,
            height: `${rect.height * 100}%`,
          },
    );
    this.activity = false;
    this.view.fit();
    if (focused) this.view.focus();
  }

  /** Marks the panel as one of the tabs that broadcast input: `members` is how many there are. */
  showBroadcast(members: number | undefined): void {
    this.element.classList.toggle('broadcasting', members !== undefined);
    this.broadcastLabel.hidden = members === undefined;
    this.broadcastLabel.textContent =
      members === undefined
        ? ''
        : `📡 BROADCAST — what you type here goes to ${members === 1 ? 'this tab only (the others left)' : `${members} tabs`}`;
  }

  show(facts: TabFacts): void {
    this.lastFacts = facts;
    const now = facts.now;
    this.status.showStage(facts.state === 'opening' && !facts.connectionLost ? facts.stage : 'ready');
    this.status.showBanner(bannerFor(facts));
    const unanswered = facts.unansweredMs;
    this.unansweredLabel.hidden = unanswered === undefined;
    this.unansweredLabel.textContent = unanswered === undefined ? '' : `⏳ ${unansweredText(unanswered)}`;
    this.unansweredLabel.title =
      unanswered === undefined
        ? ''
        : 'The agent may be frozen or its link stalled. Anything it sends ends this; with no answer at all, the console reconnects.';
    const size = this.view.size;
    const stateText = facts.connectionLost
      ? 'connection lost'
      : facts.state === 'exited'
        ? facts.containerFate && (facts.targetState === undefined || facts.targetState === 'running')
          ? `container ${facts.containerFate} (${facts.exitCode ?? 'unknown'})`
          : `exited (${facts.exitCode ?? 'unknown'})`
        : facts.state === 'opening'
          ? `connecting: ${facts.stage}`
          : facts.state === 'reconnecting'
            ? `reconnecting · input paused · ${formatDuration(now - (facts.reconnect?.since ?? now))}`
            : facts.state === 'gone'
              ? 'shell gone'
              : facts.state;
    this.status.showStatus({
      target: facts.target,
      agentName: facts.agentName,
      state: facts.targetState && facts.targetState !== 'running' ? `${stateText} · container ${facts.targetState}` : stateText,
      path: facts.state === 'open' ? facts.path : undefined,
      size,
      renderer: this.view.renderer,
    });
    this.element.dataset.state = facts.state;
  }

  dispose(): void {
    this.store.dispose();
    this.actionEmitter.dispose();
    this.activityEmitter.dispose();
    this.view.dispose();
    this.element.remove();
  }
}
