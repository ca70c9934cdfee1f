import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import { randomId } from '../base/random-id';
import type { SessionFactory } from '../session/terminal-session';
import { confirmDialog } from '../ui/dialog';
import { TabPanel } from './tab-panel';
import { TabStrip } from './tab-strip';
import { TabTransfers } from '../transfer/tab-transfers';
import { TerminalTab, type TabTarget } from './terminal-tab';
import type { TerminalViewOptions } from '../terminal/terminal-view';

/** A tab in the page: drawn on its panel. */
export type PageTab = TerminalTab<TabPanel>;

/** The open tabs in their order, the active one, and the strip that shows them. */
export class TabSet implements Disposable {
  readonly strip: TabStrip;
  readonly panels: HTMLElement;
  private order: PageTab[] = [];
  private readonly stores = new Map<string, DisposableStore>();
  private readonly transfers = new Map<string, TabTransfers>();
  private activeId: string | undefined;
  private readonly changeEmitter = new Emitter<void>();
  readonly onChange = this.changeEmitter.event;

  /**
   * `sessions` makes each tab's sessions (`webRtcSessions` in the product); `menu` is called when a
   * tab's menu is asked for (right-click, or its ⋯ button), at `at`.
   */
  constructor(
    private readonly viewOptions: () => TerminalViewOptions,
    private readonly sessions: SessionFactory,
    menu: (tab: PageTab, at: { x: number; y: number }) => void = () => undefined,
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
  create(where: TabTarget): PageTab {
    const tab = new TerminalTab(new TabPanel(this.panels, randomId(12), this.viewOptions()), where, this.sessions);
    const store = new DisposableStore();
    store.add(tab.onChange(() => this.changed()));
    // The tab's files: dropped on its terminal or chosen from its menu, over its connection.
    const transfers = store.add(new TabTransfers(tab.panel.body, where.target, () => tab.transferContext()));
    this.transfers.set(tab.id, transfers);
    this.stores.set(tab.id, store);
    this.order.push(tab);
    this.activate(tab.id);
    tab.panel.view.attach();
    // activate() focused before xterm existed: a new tab takes the keyboard, as in any terminal app.
    tab.panel.view.focus();
    return tab;
  }

  get active(): PageTab | undefined {
    return this.activeId ? this.get(this.activeId) : undefined;
  }

  /** The file transfers of tab `id`. */
  transfersOf(id: string): TabTransfers | undefined {
    return this.transfers.get(id);
  }

  get(id: string): PageTab | undefined {
    return this.order.find((t) => t.id === id);
  }

  list(): PageTab[] {
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
    const question = tab.closeQuestion;
    if (question && !(await confirmDialog(question))) return false;
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
    this.transfers.delete(id);
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
