import type { Disposable } from './emitter';
import type { NetworkPath } from './network-path';
import { SearchBar } from './search-bar';
import { bannerFor, formatDuration, type BannerFacts } from './tab-banner';
import { TabStatusView, type TabStage } from './tab-status-view';
import { TerminalView, type TerminalViewOptions } from './terminal-view';

/** What the panel shows of its tab: the banner's facts, the stage while connecting, the network path. */
export interface TabFacts extends BannerFacts {
  stage: TabStage;
  path: NetworkPath | undefined;
}

export interface TabPanelHandlers {
  /** the banner's button: Reconnect / Open a new session */
  action(): void;
  /** output arrived while the panel was hidden (`activity` turned true) */
  activity(): void;
}

/**
 * A tab's panel in the page: its terminal, its find bar, and its status (stages, banner, status
 * line) drawn from the tab's facts. It knows nothing of sessions or connections: the tab does.
 */
export class TabPanel implements Disposable {
  readonly element: HTMLElement;
  readonly view: TerminalView;
  /** the area of the terminal, where overlays (find bar, transfers) go */
  readonly body: HTMLElement;
  /** output arrived while the tab was in the background */
  activity = false;
  private readonly status: TabStatusView;
  private readonly searchBar: SearchBar;

  constructor(parent: HTMLElement, tabId: string, viewOptions: TerminalViewOptions, handlers: TabPanelHandlers) {
    this.element = document.createElement('section');
    this.element.className = 'tab-panel';
    this.element.dataset.tabId = tabId;
    this.element.setAttribute('role', 'tabpanel');
    this.status = new TabStatusView(() => handlers.action());
    const body = document.createElement('div');
    body.className = 'tab-body';
    this.body = body;
    this.element.append(this.status.banner, body, this.status.statusLine);
    parent.append(this.element);
    this.view = new TerminalView(body, viewOptions);
    this.searchBar = new SearchBar(this.view.search, () => this.view.focus());
    body.append(this.status.progress, this.searchBar.element);
    this.view.onActivity = () => {
      if (this.element.hidden && !this.activity) {
        this.activity = true;
        handlers.activity();
      }
    };
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
      size: `${size.cols}×${size.rows}`,
      renderer: this.view.renderer,
    });
    this.element.dataset.state = facts.state;
  }

  dispose(): void {
    this.view.dispose();
    this.element.remove();
  }
}
