import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import { randomId } from '../base/random-id';
import type { SessionFactory } from '../session/terminal-session';
import { confirmDialog } from '../ui/dialog';
import { openPopupMenu } from '../ui/popup-menu';
import { Broadcast } from './broadcast';
import { hostColour } from '../devices/host-colour';
import { PaneLayout, type PaneDirection, type SplitDirection } from './pane-layout';
import { TabMenu } from './tab-menu';
import { TabPanel } from './tab-panel';
import { TabStrip } from './tab-strip';
import { TabTransfers } from '../transfer/tab-transfers';
import { TerminalTab, type TabTarget } from './terminal-tab';
import type { TerminalViewOptions } from '../terminal/terminal-view';

/** A tab in the page: drawn on its panel. */
export type PageTab = TerminalTab<TabPanel>;

/**
 * The open tabs in their order, the active one, and the strip that shows them; the split panes
 * they are shown in, the set that broadcasts input, and the tab menu features add entries to.
 */
export class TabSet implements Disposable {
  readonly strip: TabStrip;
  readonly panels: HTMLElement;
  readonly panes = new PaneLayout();
  readonly broadcast = new Broadcast();
  /** what can be done with a tab: features add their entries (tab-menu.ts) */
  readonly menu = new TabMenu();
  private order: PageTab[] = [];
  private readonly stores = new Map<string, DisposableStore>();
  private readonly transfers = new Map<string, TabTransfers>();
  private readonly store = new DisposableStore();
  private activeId: string | undefined;
  private readonly changeEmitter = new Emitter<void>();
  readonly onChange = this.changeEmitter.event;

  /**
   * `sessions` makes each tab's sessions (`webRtcSessions` in the product). The tab's menu
   * (right-click, its ⋯ button, Shift+F10) shows what features add to `menu`; the tab's file
   * transfers add Upload… and Download… here.
   */
  constructor(
    private readonly viewOptions: () => TerminalViewOptions,
    private readonly sessions: SessionFactory,
  ) {
    this.strip = new TabStrip({
      activate: (id) => this.activate(id),
      close: (id) => void this.requestClose(id),
      rename: (id, title) => this.rename(id, title),
      move: (id, toIndex) => this.move(id, toIndex),
      menu: (id, at) => {
        const tab = this.get(id);
        if (tab) void this.menu.open(tab, at).then(() => this.keepFocus());
      },
      overflow: (button) => void this.openOverflow(button).then(() => this.keepFocus()),
    });
    this.panels = document.createElement('div');
    this.panels.className = 'tab-panels';
    const empty = document.createElement('p');
    empty.className = 'tab-empty';
    empty.textContent = 'Open a container from the list on the left.';
    this.panels.append(empty);
    this.store.add(this.panes.onChange(() => this.layout()));
    this.store.add(this.broadcast.onChange(() => this.changed()));
    this.store.add(this.panes);
    this.store.add(this.broadcast);
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
    this.layout();
  }

  /** Next (+1) or previous (-1) tab, wrapping around. */
  cycle(step: 1 | -1): void {
    if (this.order.length === 0) return;
    const at = this.order.findIndex((t) => t.id === this.activeId);
    const next = this.order[(at + step + this.order.length) % this.order.length];
    if (next) this.activate(next.id);
  }

  /**
   * Tab `index` (0-based), as the strip numbers them; past the last tab (Alt+9 with three), the last.
   * Browsers make 9 the last tab whatever their count, but their tabs show no numbers: with ten
   * tabs here, Alt+9 went to the tenth while the ninth said "9".
   */
  selectIndex(index: number): void {
    const tab = this.order[Math.min(index, this.order.length - 1)];
    if (tab) this.activate(tab.id);
  }

  /** `tab` is shown beside the active one, halving its pane (`row`: to its right; `column`: below). */
  split(tab: PageTab, beside: PageTab, direction: SplitDirection): void {
    // Next to the tab it splits in the strip too, not at its end.
    const at = this.order.indexOf(tab);
    const to = this.order.indexOf(beside);
    if (at >= 0 && to >= 0 && at !== to + 1) {
      this.order.splice(at, 1);
      this.order.splice(this.order.indexOf(beside) + 1, 0, tab);
    }
    this.panes.split(beside.id, tab.id, direction);
    this.activate(tab.id);
  }

  /** Moves the keyboard to the pane next to the active one. */
  focusPane(direction: PaneDirection): void {
    const next = this.activeId ? this.panes.neighbour(this.activeId, direction) : undefined;
    if (next) this.activate(next);
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
    // Its neighbour in a split takes the keyboard, else the tab next to it in the strip.
    const paneNext =
      this.panes.neighbour(id, 'left') ??
      this.panes.neighbour(id, 'up') ??
      this.panes.neighbour(id, 'right') ??
      this.panes.neighbour(id, 'down');
    this.order.splice(at, 1);
    this.stores.get(id)?.dispose();
    this.stores.delete(id);
    this.transfers.delete(id);
    this.broadcast.remove(id);
    this.panes.remove(id, false);
    tab.dispose();
    if (this.activeId === id) {
      this.activeId = undefined;
      const next = (paneNext && this.get(paneNext)) || this.order[Math.min(at, this.order.length - 1)];
      if (next) this.activeId = next.id;
    }
    this.layout();
  }

  dispose(): void {
    for (const tab of [...this.order]) this.close(tab.id);
    this.strip.dispose();
    this.store.dispose();
    this.changeEmitter.dispose();
  }

  /** Redraws the strip (a host's colour changed). */
  refresh(): void {
    this.changed();
  }

  /** After a menu closed: the keyboard goes back to the active terminal unless the menu's action took it (rename, a dialog). */
  keepFocus(): void {
    const focused = document.activeElement;
    if (!focused || focused === document.body) this.active?.panel.view.focus();
  }

  /** Every tab in a menu, with its host's colour and state: the strip may not show them all. */
  private openOverflow(button: HTMLElement): Promise<void> {
    const titles = this.strip.labels();
    return openPopupMenu(
      this.order.map((tab, i) => ({
        label: `${i + 1}  ${titles.get(tab.id) ?? tab.title}`,
        note: tab.state,
        checked: tab.id === this.activeId,
        swatch: hostColour(tab.agentId),
        testid: 'tab-overflow-item',
        data: { tabId: tab.id },
        action: () => this.activate(tab.id),
      })),
      button,
      { testid: 'tab-overflow-menu', label: 'Every open tab' },
    );
  }

  /** Shows the active tab with the panes of its group, hides the rest. */
  private layout(): void {
    const id = this.activeId;
    const visible = id ? this.panes.visibleWith(id) : new Map();
    for (const tab of this.order) tab.panel.place(visible.get(tab.id), tab.id === id);
    this.changed();
  }

  private changed(): void {
    for (const tab of this.order) tab.panel.showBroadcast(this.broadcast.has(tab.id) ? this.broadcast.size : undefined);
    this.strip.sync(this.order, this.activeId, {
      broadcast: (id) => this.broadcast.has(id),
      split: (id) => this.panes.groupOf(id) !== undefined,
    });
    this.panels.classList.toggle('has-tabs', this.order.length > 0);
    const active = this.active;
    document.title = active ? `${active.title} — Tether` : 'Tether console';
    this.changeEmitter.fire();
  }
}
