/**
 * The row of tab buttons: click to switch, double-click or Ctrl+Shift+E to rename, drag to reorder, × to
 * close, right-click for the tab menu, a dot for output in a background tab. Built for many tabs:
 * each starts with its number (Alt+1…9) and its host's colour, tabs with the same title are
 * numbered, hovering shows the full title and state, tabs shrink before they scroll, the active
 * one is always scrolled into view, and a menu at the end lists every tab. Updated in place so
 * that a rename in progress and the keyboard focus survive output arriving in other tabs.
 */
import { hostColour } from '../devices/host-colour';
import { unansweredText } from '../connection/keepalive';
import type { TabPanel } from './tab-panel';
import type { TerminalTab } from './terminal-tab';

export interface TabStripActions {
  activate(id: string): void;
  close(id: string): void;
  rename(id: string, title: string | undefined): void;
  move(id: string, toIndex: number): void;
  /** the tab's menu (right-click, or its ⋯ button), opened at `at` or under the button */
  menu(id: string, at: { x: number; y: number } | HTMLElement): void;
  /** the list of every tab, under its button */
  overflow(button: HTMLElement): void;
}

/** What else a tab's button shows: whether it broadcasts input, whether it is in a split. */
export interface TabMarks {
  broadcast(id: string): boolean;
  split(id: string): boolean;
}

const STATE_WORDS: Record<string, string> = {
  opening: 'connecting',
  open: 'connected',
  reconnecting: 'reconnecting — input paused',
  gone: 'the shell is gone',
  exited: 'the shell exited',
  failed: 'failed',
  closed: 'closed',
};

const DRAG_TYPE = 'application/x-tether-tab';

/**
 * A name in two parts: what may be cut (with an ellipsis) and its last 5 characters, always shown
 * (`nt9-A-press-2` reads `nt9-A-p…ess-2` in a crowded strip, not `nt9-A-pr…`).
 */
export function splitForEllipsis(name: string): [string, string] {
  return name.length <= 12 ? [name, ''] : [name.slice(0, -5), name.slice(-5)];
}

/** States that need the engineer's eye: a tab in the background that comes to one is marked until shown. */
const ATTENTION_STATES = new Set(['reconnecting', 'gone', 'exited', 'failed']);

export class TabStrip {
  /** the strip: the scrolling row of tabs and the button of the list of every tab */
  readonly element: HTMLElement;
  private readonly row: HTMLElement;
  private readonly overflowButton: HTMLButtonElement;
  private readonly items = new Map<string, HTMLElement>();
  private readonly shownLabels = new Map<string, string>();
  /** each tab's state when it was last the active one (data-attention) */
  private readonly seenState = new Map<string, string>();
  private renaming: string | undefined;
  private shownActive: string | undefined;
  private readonly resizeObserver: ResizeObserver;

  constructor(private readonly actions: TabStripActions) {
    this.element = document.createElement('div');
    this.element.className = 'tab-bar';
    this.row = document.createElement('div');
    this.row.className = 'tab-strip';
    this.row.setAttribute('role', 'tablist');
    this.overflowButton = document.createElement('button');
    this.overflowButton.type = 'button';
    this.overflowButton.className = 'tab-overflow';
    this.overflowButton.dataset.testid = 'tab-overflow';
    this.overflowButton.title = 'every open tab';
    this.overflowButton.setAttribute('aria-label', 'List every open tab');
    this.overflowButton.addEventListener('click', () => this.actions.overflow(this.overflowButton));
    this.element.append(this.row, this.overflowButton);
    // Crowded (less room a tab than a whole `<container> @ <host>` takes): the labels drop the host,
    // which the tab's colour shows, so the container's name gets the room.
    this.resizeObserver = new ResizeObserver(() => this.measure());
    this.resizeObserver.observe(this.row);
  }

  /** Each tab's title as the strip shows it, numbered when another tab has the same title. */
  labels(): Map<string, string> {
    return new Map(this.shownLabels);
  }

  sync(tabs: readonly TerminalTab<TabPanel>[], activeId: string | undefined, marks: TabMarks): void {
    const ids = new Set(tabs.map((t) => t.id));
    for (const [id, item] of this.items) {
      if (!ids.has(id)) {
        item.remove();
        this.items.delete(id);
        this.seenState.delete(id);
      }
    }
    // Tabs with the same title get (1), (2)… in strip order.
    const seen = new Map<string, number>();
    const total = new Map<string, number>();
    for (const tab of tabs) total.set(tab.title, (total.get(tab.title) ?? 0) + 1);
    this.shownLabels.clear();
    tabs.forEach((tab, index) => {
      const item = this.items.get(tab.id) ?? this.create(tab);
      if (this.row.children[index] !== item) this.row.insertBefore(item, this.row.children[index] ?? null);
      const nth = (seen.get(tab.title) ?? 0) + 1;
      seen.set(tab.title, nth);
      const duplicate = (total.get(tab.title) ?? 0) > 1 ? nth : undefined;
      this.shownLabels.set(tab.id, duplicate ? `${tab.title} (${duplicate})` : tab.title);
      this.update(item, tab, {
        active: tab.id === activeId,
        index,
        duplicate,
        broadcast: marks.broadcast(tab.id),
        split: marks.split(tab.id),
      });
    });
    this.measure();
    this.overflowButton.textContent = `▾ ${tabs.length}`;
    this.overflowButton.hidden = tabs.length === 0;
    // A tab that becomes active (a new one, a switch) is scrolled into view, once.
    if (activeId !== this.shownActive) {
      this.shownActive = activeId;
      const item = activeId ? this.items.get(activeId) : undefined;
      item?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
  }

  /** Marks the strip crowded when a tab has less room than about 16 rem (a whole title). */
  private measure(): void {
    const count = this.items.size;
    const room = count > 0 ? this.row.clientWidth / count : Infinity;
    const crowded = room < 16 * parseFloat(getComputedStyle(document.documentElement).fontSize || '16');
    if (this.element.dataset.crowded !== String(crowded)) this.element.dataset.crowded = String(crowded);
  }

  dispose(): void {
    this.resizeObserver.disconnect();
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
      if (event.key !== 'Enter' && event.key !== 'Escape') return;
      // Finishing gives the terminal the focus at once: without this, the same key's keypress
      // reached its shell, and an Enter ran whatever was half typed at the prompt.
      event.preventDefault();
      finish(event.key === 'Enter');
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
    // Anywhere on the tab shows it (its number and "(2)" too), but its own buttons.
    item.addEventListener('click', (event) => {
      if ((event.target as HTMLElement).closest('.tab-close, .tab-menu-button, .tab-rename')) return;
      this.actions.activate(tab.id);
    });
    const number = document.createElement('span');
    number.className = 'tab-index';
    number.dataset.testid = 'tab-index';
    const badge = document.createElement('span');
    badge.className = 'tab-activity';
    badge.dataset.testid = 'tab-activity';
    badge.setAttribute('aria-label', 'new output');
    const duplicate = document.createElement('span');
    duplicate.className = 'tab-duplicate';
    duplicate.dataset.testid = 'tab-duplicate';
    const broadcast = document.createElement('span');
    broadcast.className = 'tab-broadcast-mark';
    broadcast.dataset.testid = 'tab-broadcast-mark';
    broadcast.textContent = '📡';
    broadcast.title = 'broadcast: input typed in any of these tabs goes to all of them';
    const label = document.createElement('button');
    label.type = 'button';
    label.className = 'tab-label';
    label.dataset.testid = 'tab-label';
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
      this.actions.menu(tab.id, menu);
    });
    item.addEventListener('auxclick', (event) => {
      if (event.button === 1) this.actions.close(tab.id);
    });
    item.addEventListener('contextmenu', (event) => {
      event.preventDefault();
      this.actions.menu(tab.id, { x: event.clientX, y: event.clientY });
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
      const at = [...this.row.children].filter((c) => c !== this.items.get(dragged)).indexOf(item);
      this.actions.move(dragged, Math.min(order.length, at + (after ? 1 : 0)));
    });
    item.append(number, badge, label, duplicate, broadcast, menu, close);
    this.items.set(tab.id, item);
    return item;
  }

  private update(
    item: HTMLElement,
    tab: TerminalTab<TabPanel>,
    shown: { active: boolean; index: number; duplicate: number | undefined; broadcast: boolean; split: boolean },
  ): void {
    const { active } = shown;
    item.dataset.state = tab.state;
    // The state the engineer last saw the tab in: a change behind their back to one that needs them
    // (the shell lost, ended, gone) marks the tab, as output does, until it is shown.
    if (active) this.seenState.set(tab.id, tab.state);
    item.dataset.attention = String(!active && ATTENTION_STATES.has(tab.state) && this.seenState.get(tab.id) !== tab.state);
    const colour = hostColour(tab.agentId);
    item.style.setProperty('--host-colour', colour);
    item.dataset.hostColour = colour;
    item.dataset.activity = String(tab.panel.activity && !active);
    item.dataset.broadcast = String(shown.broadcast);
    item.dataset.split = String(shown.split);
    const unanswered = tab.unansweredMs;
    item.dataset.unanswered = String(unanswered !== undefined);
    item.classList.toggle('active', active);
    item.setAttribute('aria-selected', String(active));
    const state = STATE_WORDS[tab.state] ?? tab.state;
    const title = shown.duplicate ? `${tab.title} (${shown.duplicate})` : tab.title;
    item.title = [
      title,
      `${tab.target} on ${tab.agentName}`,
      unanswered === undefined ? state : `${state} · ${unansweredText(unanswered)}`,
      shown.broadcast ? 'broadcast: input goes to every tab marked 📡' : '',
      shown.split ? 'in a split (Alt+arrows move between panes)' : '',
    ]
      .filter(Boolean)
      .join('\n');
    const number = item.querySelector<HTMLElement>('.tab-index');
    if (number) number.textContent = String(shown.index + 1);
    const duplicate = item.querySelector<HTMLElement>('.tab-duplicate');
    if (duplicate) duplicate.textContent = shown.duplicate ? `(${shown.duplicate})` : '';
    const label = item.querySelector<HTMLElement>('.tab-label');
    if (label && this.renaming !== tab.id && label.dataset.title !== tab.title) {
      // The default title in two parts, so that a crowded strip can leave out the host.
      label.dataset.title = tab.title;
      const target = Object.assign(document.createElement('span'), { className: 'tab-target' });
      // The end of a name is what tells press-1 from press-2: a narrow tab cuts the middle, not the end.
      const [start, end] = splitForEllipsis(tab.customTitle ?? tab.target);
      target.append(
        Object.assign(document.createElement('span'), { className: 'tab-target-start', textContent: start }),
        Object.assign(document.createElement('span'), { className: 'tab-target-end', textContent: end }),
      );
      label.replaceChildren(target);
      if (!tab.customTitle)
        label.append(Object.assign(document.createElement('span'), { className: 'tab-host', textContent: ` @ ${tab.agentName}` }));
    }
    item.querySelector('.tab-close')?.setAttribute('aria-label', `Close ${title}`);
    item.querySelector('.tab-menu-button')?.setAttribute('aria-label', `Menu of ${title}`);
  }
}
