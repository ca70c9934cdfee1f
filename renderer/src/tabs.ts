import type { AgentConnection } from './agent-connection';
import { DisposableStore, Emitter, type Disposable } from './emitter';
import { randomId } from './random-id';
import type { SessionError } from './terminal-session';
import { TerminalView } from './terminal-view';
import { WebRtcTerminalSession, isOpenFailure } from './webrtc-terminal-session';

export type TabState = 'opening' | 'open' | 'exited' | 'failed' | 'closed';

/** One terminal tab: its session, its view and what the user sees about it. */
export interface Tab {
  readonly id: string;
  readonly agentId: string;
  readonly agentName: string;
  readonly target: string;
  state: TabState;
  exitCode: number | null | undefined;
  sessionId: string | undefined;
  errors: SessionError[];
  readonly session: WebRtcTerminalSession;
  readonly view: TerminalView;
}

interface TabParts {
  tab: Tab;
  button: HTMLElement;
  panel: HTMLElement;
  store: DisposableStore;
}

/** The tab strip and its panels; one panel is visible at a time. */
export class TabSet implements Disposable {
  private readonly tabs = new Map<string, TabParts>();
  private readonly changeEmitter = new Emitter<void>();
  private activeId: string | undefined;
  readonly onChange = this.changeEmitter.event;

  constructor(
    private readonly strip: HTMLElement,
    private readonly panels: HTMLElement,
  ) {}

  open(connection: AgentConnection, target: string): Tab {
    const id = randomId(12);
    const store = new DisposableStore();
    const session = new WebRtcTerminalSession({ target, openChannel: () => connection.openTerminalChannel(id) });
    const panel = document.createElement('section');
    panel.className = 'tab-panel';
    panel.dataset.tabId = id;
    panel.setAttribute('role', 'tabpanel');
    this.panels.append(panel);
    const view = new TerminalView(panel, session);
    const tab: Tab = {
      id,
      agentId: connection.agent.agentId,
      agentName: connection.agent.name,
      target,
      state: 'opening',
      exitCode: undefined,
      sessionId: undefined,
      errors: [],
      session,
      view,
    };
    const button = this.renderButton(tab);
    this.strip.append(button);
    const parts: TabParts = { tab, button, panel, store };
    this.tabs.set(id, parts);

    store.add(session.onOpened((opened) => {
      tab.sessionId = opened.sessionId;
      tab.state = 'open';
      this.changed(parts);
    }));
    store.add(session.onExit((code) => {
      tab.exitCode = code;
      tab.state = 'exited';
      this.changed(parts);
    }));
    store.add(session.onError((error) => {
      tab.errors.push(error);
      const running = tab.state === 'opening' || tab.state === 'open';
      if (running && (error.fatal || (tab.state === 'opening' && isOpenFailure(error.code)))) tab.state = 'failed';
      this.changed(parts);
    }));
    store.add(session.onClosed(() => {
      if (tab.state === 'open' || tab.state === 'opening') tab.state = 'closed';
      this.changed(parts);
    }));
    // A dropped connection ends every tab on it.
    store.add(connection.onStage((stage) => {
      if (stage.kind === 'failed' || stage.kind === 'closed') session.dispose();
    }));

    this.activate(id);
    view.attach();
    session.start();
    view.focus();
    return tab;
  }

  activate(id: string): void {
    const parts = this.tabs.get(id);
    if (!parts) return;
    this.activeId = id;
    for (const other of this.tabs.values()) {
      const active = other.tab.id === id;
      other.panel.hidden = !active;
      other.button.setAttribute('aria-selected', String(active));
      other.button.classList.toggle('active', active);
    }
    document.title = `${parts.tab.target} @ ${parts.tab.agentName} — Tether`;
    parts.tab.view.fit();
    parts.tab.view.focus();
    this.changeEmitter.fire();
  }

  /** Closes the tab: the session sends `close` and closes its channel, the view goes away. */
  close(id: string): void {
    const parts = this.tabs.get(id);
    if (!parts) return;
    this.tabs.delete(id);
    parts.tab.session.close();
    parts.tab.state = 'closed';
    parts.store.dispose();
    parts.tab.view.dispose();
    parts.button.remove();
    parts.panel.remove();
    if (this.activeId === id) {
      this.activeId = undefined;
      const next = [...this.tabs.keys()].pop();
      if (next) this.activate(next);
      else document.title = 'Tether console';
    }
    this.changeEmitter.fire();
  }

  get(id: string): Tab | undefined {
    return this.tabs.get(id)?.tab;
  }

  list(): Tab[] {
    return [...this.tabs.values()].map((parts) => parts.tab);
  }

  dispose(): void {
    for (const id of [...this.tabs.keys()]) this.close(id);
    this.changeEmitter.dispose();
  }

  private renderButton(tab: Tab): HTMLElement {
    const item = document.createElement('div');
    item.className = 'tab';
    item.setAttribute('role', 'tab');
    item.dataset.testid = 'tab';
    item.dataset.tabId = tab.id;
    item.dataset.state = tab.state;
    const label = document.createElement('button');
    label.type = 'button';
    label.className = 'tab-label';
    label.textContent = `${tab.target} @ ${tab.agentName}`;
    label.addEventListener('click', () => this.activate(tab.id));
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'tab-close';
    close.dataset.testid = 'tab-close';
    close.setAttribute('aria-label', `Close ${tab.target} @ ${tab.agentName}`);
    close.textContent = '×';
    close.addEventListener('click', () => this.close(tab.id));
    item.append(label, close);
    return item;
  }

  private changed(parts: TabParts): void {
    parts.button.dataset.state = parts.tab.state;
    this.changeEmitter.fire();
  }
}
