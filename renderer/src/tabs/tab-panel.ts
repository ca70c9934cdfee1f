import { DisposableStore, Emitter, type Disposable, type Event } from '../base/emitter';
import type { NetworkPath } from '../connection/network-path';
import type { TerminalSession } from '../session/terminal-session';
import { SearchBar } from '../terminal/search-bar';
import { bannerFor, formatDuration, type BannerFacts } from './tab-banner';
import { TabStatusView, type TabStage } from './tab-status-view';
import { TerminalView, type TerminalViewOptions } from '../terminal/terminal-view';

/** What the panel shows of its tab: the banner's facts, the stage while connecting, the network path. */
export interface TabFacts extends BannerFacts {
  stage: TabStage;
  path: NetworkPath | undefined;
}

/** What a tab draws on: its panel in the page (TabPanel), or a stand-in that records in unit tests. */
export interface TabSurface extends Disposable {
  readonly tabId: string;
  /** the banner's button was pressed: Reconnect / Open a new session */
  readonly onAction: Event<void>;
  /** output arrived while the panel was hidden (`activity` turned true) */
  readonly onActivity: Event<void>;
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
  private readonly store = new DisposableStore();
  private readonly actionEmitter = new Emitter<void>();
  private readonly activityEmitter = new Emitter<void>();
  readonly onAction = this.actionEmitter.event;
  readonly onActivity = this.activityEmitter.event;

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
    this.element.append(this.status.banner, body, this.status.statusLine);
    parent.append(this.element);
    this.view = new TerminalView(body, viewOptions);
    this.searchBar = new SearchBar(this.view.search, () => this.view.focus());
    body.append(this.status.progress, this.searchBar.element);
    this.store.add(this.view.onResize((size) => this.status.showSize(size)));
    this.store.add(this.view.onOutput(() => {
      if (this.element.hidden && !this.activity) {
        this.activity = true;
        this.activityEmitter.fire();
      }
    }));
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
    this.element.hidden = !active;
    if (active) {
      this.activity = false;
      this.view.fit();
      this.view.focus();
    }
  }

  show(facts: TabFacts): void {
    const now = facts.now;
    this.status.showStage(facts.state === 'opening' && !facts.connectionLost ? facts.stage : 'ready');
    this.status.showBanner(bannerFor(facts));
    const size = this.view.size;
    const stateText = facts.connectionLost
      ? 'connection lost'
      : facts.state === 'exited'
        ? `exited (${facts.exitCode ?? 'unknown'})`
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
