/**
 * The row of tab buttons: click to switch, double-click or F2 to rename, drag to reorder, × to
 * close, a dot for output in a background tab. Updated in place so that a rename in progress and
 * the keyboard focus survive output arriving in other tabs.
 */
import type { TabPanel } from './tab-panel';
import type { TerminalTab } from './terminal-tab';

export interface TabStripActions {
  activate(id: string): void;
  close(id: string): void;
  rename(id: string, title: string | undefined): void;
  move(id: string, toIndex: number): void;
  /** the tab's menu (right-click, or its ⋯ button), opened at `at` */
  menu(id: string, at: { x: number; y: number }): void;
}

const DRAG_TYPE = 'application/x-tether-tab';

export class TabStrip {
  readonly element: HTMLElement;
  private readonly items = new Map<string, HTMLElement>();
  private renaming: string | undefined;

  constructor(private readonly actions: TabStripActions) {
    this.element = document.createElement('div');
    this.element.className = 'tab-strip';
    this.element.setAttribute('role', 'tablist');
  }

  sync(tabs: readonly TerminalTab<TabPanel>[], activeId: string | undefined): void {
    const ids = new Set(tabs.map((t) => t.id));
    for (const [id, item] of this.items) {
      if (!ids.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    tabs.forEach((tab, index) => {
      const item = this.items.get(tab.id) ?? this.create(tab);
      if (this.element.children[index] !== item) this.element.insertBefore(item, this.element.children[index] ?? null);
      this.update(item, tab, tab.id === activeId);
    });
  }

  /** Puts an inline editor on the tab's title; Enter keeps it, Escape cancels, empty restores. */
  startRename(tab: TerminalTab<TabPanel>): void {
    const item = this.items.get(tab.id);
    const label = item?.querySelector<HTMLElement>('.tab-label');
    if (!item || !label || this.renaming) return;
    this.renaming = tab.id;
    const input = document.createElement('input');
    input.className = 'tab-rename';
    input.dataset.testid = 'tab-rename';
    input.value = tab.title;
    input.setAttribute('aria-label', 'Tab title');
    let done = false;
    const finish = (keep: boolean) => {
      if (done) return;
      done = true;
      this.renaming = undefined;
      input.remove();
      label.hidden = false;
      if (keep) this.actions.rename(tab.id, input.value.trim() || undefined);
      else this.actions.activate(tab.id);
    };
    input.addEventListener('keydown', (event) => {
      event.stopPropagation();
      if (event.key === 'Enter') finish(true);
      else if (event.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true));
    label.hidden = true;
    label.after(input);
    input.select();
    input.focus();
  }

  private create(tab: TerminalTab<TabPanel>): HTMLElement {
    const item = document.createElement('div');
    item.className = 'tab';
    item.setAttribute('role', 'tab');
    item.dataset.testid = 'tab';
    item.dataset.tabId = tab.id;
    item.draggable = true;
    const badge = document.createElement('span');
    badge.className = 'tab-activity';
    badge.dataset.testid = 'tab-activity';
    badge.setAttribute('aria-label', 'new output');
    const label = document.createElement('button');
    label.type = 'button';
    label.className = 'tab-label';
    label.dataset.testid = 'tab-label';
    label.addEventListener('click', () => this.actions.activate(tab.id));
    label.addEventListener('dblclick', () => this.startRename(tab));
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'tab-close';
    close.dataset.testid = 'tab-close';
    close.textContent = '×';
    close.addEventListener('click', (event) => {
      event.stopPropagation();
      this.actions.close(tab.id);
    });
    const menu = document.createElement('button');
    menu.type = 'button';
    menu.className = 'tab-menu-button';
    menu.dataset.testid = 'tab-menu-button';
    menu.textContent = '⋯';
    menu.setAttribute('aria-haspopup', 'menu');
    menu.addEventListener('click', (event) => {
      event.stopPropagation();
      const box = menu.getBoundingClientRect();
      this.actions.menu(tab.id, { x: box.left, y: box.bottom });
    });
    item.addEventListener('contextmenu', (event) => {
      event.preventDefault();
      this.actions.menu(tab.id, { x: event.clientX, y: event.clientY });
    });
    item.addEventListener('auxclick', (event) => {
      if (event.button === 1) this.actions.close(tab.id);
    });
    item.addEventListener('dragstart', (event) => {
      event.dataTransfer?.setData(DRAG_TYPE, tab.id);
      if (event.dataTransfer) event.dataTransfer.effectAllowed = 'move';
      item.classList.add('dragging');
    });
    item.addEventListener('dragend', () => item.classList.remove('dragging'));
    item.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes(DRAG_TYPE)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'move';
    });
    item.addEventListener('drop', (event) => {
      const dragged = event.dataTransfer?.getData(DRAG_TYPE);
      if (!dragged || dragged === tab.id) return;
      event.preventDefault();
      const box = item.getBoundingClientRect();
      const after = event.clientX > box.left + box.width / 2;
      const order = [...this.items.keys()].filter((id) => id !== dragged);
      const at = [...this.element.children].filter((c) => c !== this.items.get(dragged)).indexOf(item);
      this.actions.move(dragged, Math.min(order.length, at + (after ? 1 : 0)));
    });
    item.append(badge, label, menu, close);
    this.items.set(tab.id, item);
    return item;
  }

  private update(item: HTMLElement, tab: TerminalTab<TabPanel>, active: boolean): void {
    item.dataset.state = tab.state;
    item.dataset.activity = String(tab.panel.activity && !active);
    item.classList.toggle('active', active);
    item.setAttribute('aria-selected', String(active));
    item.title = `${tab.target} on ${tab.agentName} — ${tab.state}`;
    const label = item.querySelector<HTMLElement>('.tab-label');
    if (label && this.renaming !== tab.id) label.textContent = tab.title;
    item.querySelector('.tab-close')?.setAttribute('aria-label', `Close ${tab.title}`);
    item.querySelector('.tab-menu-button')?.setAttribute('aria-label', `Menu of ${tab.title}`);
  }
}
