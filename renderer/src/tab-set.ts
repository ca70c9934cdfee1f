import { confirmDialog } from './dialog';
import { DisposableStore, Emitter, type Disposable } from './emitter';
import { TabStrip } from './tab-strip';
import { TerminalTab, type TabTarget } from './terminal-tab';
import type { TerminalViewOptions } from './terminal-view';

/** The open tabs in their order, the active one, and the strip that shows them. */
export class TabSet implements Disposable {
  readonly strip: TabStrip;
  readonly panels: HTMLElement;
  private order: TerminalTab[] = [];
  private readonly stores = new Map<string, DisposableStore>();
  private activeId: string | undefined;
  private readonly changeEmitter = new Emitter<void>();
  readonly onChange = this.changeEmitter.event;

  constructor(
    private readonly viewOptions: () => TerminalViewOptions,
    /** the tab's menu was asked for, at `at` */
    menu: (tab: TerminalTab, at: { x: number; y: number }) => void,
  ) {
    this.strip = new TabStrip({
      menu: (id, at) => {
        const tab = this.get(id);
        if (tab) menu(tab, at);
      },
      activate: (id) => this.activate(id),
      close: (id) => void this.requestClose(id),
      rename: (id, title) => this.rename(id, title),
      move: (id, toIndex) => this.move(id, toIndex),
    });
    this.panels = document.createElement('div');
    this.panels.className = 'tab-panels';
    const empty = document.createElement('p');
    empty.className = 'tab-empty';
    empty.textContent = 'Open a container from the list on the left.';
    this.panels.append(empty);
  }

  /** A new tab, made active; the caller connects it (`tab.follow`). */
  create(where: TabTarget): TerminalTab {
    const tab = new TerminalTab(this.panels, where, this.viewOptions());
    const store = new DisposableStore();
    store.add(tab.onChange(() => this.changed()));
    this.stores.set(tab.id, store);
    this.order.push(tab);
    this.activate(tab.id);
    tab.view.attach();
    // activate() focused before xterm existed: a new tab takes the keyboard, as in any terminal app.
    tab.view.focus();
    return tab;
  }

  get active(): TerminalTab | undefined {
    return this.activeId ? this.get(this.activeId) : undefined;
  }

  get(id: string): TerminalTab | undefined {
    return this.order.find((t) => t.id === id);
  }

  list(): TerminalTab[] {
    return [...this.order];
  }

  activate(id: string): void {
    const tab = this.get(id);
    if (!tab) return;
    this.activeId = id;
    for (const other of this.order) other.panel.setActive(other.id === id);
    this.changed();
  }

  /** Next (+1) or previous (-1) tab, wrapping around. */
  cycle(step: 1 | -1): void {
    if (this.order.length === 0) return;
    const at = this.order.findIndex((t) => t.id === this.activeId);
    const next = this.order[(at + step + this.order.length) % this.order.length];
    if (next) this.activate(next.id);
  }

  /** Tab `index` (0-based); 8 means the last, as in browsers and terminal apps. */
  selectIndex(index: number): void {
    const tab = index >= 8 ? this.order[this.order.length - 1] : this.order[index];
    if (tab) this.activate(tab.id);
  }

  rename(id: string, title: string | undefined): void {
    const tab = this.get(id);
    if (!tab) return;
    tab.customTitle = title?.slice(0, 80);
    this.activate(id);
  }

  move(id: string, toIndex: number): void {
    const tab = this.get(id);
    if (!tab) return;
    const rest = this.order.filter((t) => t !== tab);
    rest.splice(Math.max(0, Math.min(toIndex, rest.length)), 0, tab);
    this.order = rest;
    this.changed();
  }

  /** Closes the tab, after asking when its shell is still running. Resolves whether it closed. */
  async requestClose(id: string): Promise<boolean> {
    const tab = this.get(id);
    if (!tab) return false;
    if (tab.running) {
      const close = await confirmDialog({
        title: `Close ${tab.title}?`,
        message: `The shell in ${tab.target} on ${tab.agentName} is still running. Closing the tab ends it and every program it started.`,
        accept: 'Close tab',
      });
      if (!close) return false;
    }
    this.close(id);
    return true;
  }

  /** Closes at once: the session sends `close` and closes its channel, the view goes away. */
  close(id: string): void {
    const tab = this.get(id);
    if (!tab) return;
    const at = this.order.indexOf(tab);
    this.order.splice(at, 1);
    this.stores.get(id)?.dispose();
    this.stores.delete(id);
    tab.dispose();
    if (this.activeId === id) {
      this.activeId = undefined;
      const next = this.order[Math.min(at, this.order.length - 1)];
      if (next) this.activate(next.id);
    }
    this.changed();
  }

  dispose(): void {
    for (const tab of [...this.order]) this.close(tab.id);
    this.changeEmitter.dispose();
  }

  private changed(): void {
    this.strip.sync(this.order, this.activeId);
    this.panels.classList.toggle('has-tabs', this.order.length > 0);
    const active = this.active;
    document.title = active ? `${active.title} — Tether` : 'Tether console';
    this.changeEmitter.fire();
  }
}
