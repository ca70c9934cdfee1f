/**
 * The side panel: every known agent (online ones from presence, offline ones remembered), its
 * connection stage, and under it the containers it exposes with their state, kept live. Built for
 * a fleet: the list is virtualized (only the rows in view, and a few around them, are in the DOM,
 * with @tanstack/virtual-core measuring their heights), filtered by name and state, counted per
 * state, and rendered at most once a frame; a row is touched only when its own entry changed, and
 * then patched in place (morphdom), never replaced: a row changes every few seconds while its agent
 * is connected (the round-trip time it shows), and a click pressed on a replaced button and released
 * on its successor reached neither, so the container was never opened. Clicks are handled once, on
 * the list, from the data attributes of the button under the pointer and the entry as it is now.
 *
 * A live list moves under the pointer: an agent that connects climbs to its group, one that comes
 * online is inserted by name, a container starts, and the row an engineer was about to click is now
 * another (a terminal in the wrong vPLC). So while the pointer is on the list, its rows keep their
 * order and place: their contents follow (states, stages, the containers' states), but agents
 * joining, leaving or changing group, and containers added to or removed from a row, wait until the
 * pointer leaves; a note under the list counts what waits. An agent gone meanwhile stays as a
 * disabled row that says so, a container gone as a disabled "removed" entry. A row the user clicked
 * (Connect, a container) is not held: its change is the one they asked for.
 */
import morphdom from 'morphdom';
import { elementScroll, measureElement, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import type { Target } from '@tether/protocol';
import type { ConnectionStage } from '../connection/connection-stage';
import type { NetworkPath } from '../connection/network-path';
import { hostColour } from './host-colour';
import type { PairingWarning } from './agent-record';
import { unansweredText } from '../connection/keepalive';

export interface DeviceEntry {
  agentId: string;
  name: string;
  version: string | undefined;
  online: boolean;
  stage: ConnectionStage;
  /** the last list the agent sent; shown as unreachable while the agent is not connected */
  targets: readonly Target[];
  targetsKnown: boolean;
  path: NetworkPath | undefined;
  /** tabs whose shell runs on this agent */
  openTabs: number;
  /** the targets (name or id, as opened) that have a tab in this console whose shell runs, or is being opened */
  openTargets: readonly string[];
  /** this console paired with the agent: its identity is pinned */
  paired: boolean;
  /** the signaling path its connection takes: the agent's own LAN endpoint or the cloud server */
  route: 'lan' | 'cloud' | undefined;
  /** set while a lost connection is being re-established for the shells of its tabs */
  reconnectAttempt: number | undefined;
  /** how long a ping to the agent has gone unanswered, once past the keepalive's notice (its dot says so) */
  unansweredMs: number | undefined;
  /** not paired, in a console that has paired with other agents: the server alone vouches for it, or it bears a paired agent's name */
  pairingWarning: PairingWarning | undefined;
  /** a paired agent that the signaling server lists under another name than the one it authenticated */
  listedAs?: string | undefined;
  /** the agent cannot reach its Docker engine (its words): its containers' states are not known */
  engineProblem?: string | undefined;
  /** not online as far as the console knows, while the signaling server does not answer: it may well be */
  presenceUnknown?: boolean | undefined;
}

/** An entry as the list shows it: while the list is held (the pointer on it), what changed under the pointer is marked. */
type ShownEntry = DeviceEntry & {
  /** the agent is no longer listed: its row stays, disabled, until the pointer leaves */
  gone?: true;
  /** containers no longer listed: their entries stay, disabled, until the pointer leaves */
  removedTargets?: readonly string[];
};

export interface DevicePanelActions {
  connect(agentId: string): void;
  disconnect(agentId: string): void;
  openTarget(agentId: string, target: Target): void;
  /** opens the pairing dialog */
  pair(): void;
}

/** The states the list can be filtered by and counts; an entry may be in several (online and connected). */
export const DEVICE_STATES = ['online', 'offline', 'connected', 'reconnecting', 'failed'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

function inState(entry: DeviceEntry, state: DeviceState): boolean {
  switch (state) {
    case 'online':
      return entry.online;
    case 'offline':
      return !entry.online;
    case 'connected':
      return entry.online && entry.stage.kind === 'ready';
    // The same state the dot shows: a connection being re-established for its tabs is reconnecting, not failed.
    case 'reconnecting':
      return dotOf(entry) === 'reconnecting';
    case 'failed':
      return dotOf(entry) === 'failed';
  }
}

/** A row's height before it is measured: an agent without containers listed. */
const ESTIMATED_ROW_PX = 64;
/** Rows rendered beyond the visible ones on each side, so that scrolling shows no gap. */
const OVERSCAN_ROWS = 6;
/** If no animation frame comes (a hidden page), the list is rendered after this long anyway. */
const RENDER_FALLBACK_MS = 100;

const STAGE_TEXT: Record<ConnectionStage['kind'], string> = {
  idle: 'not connected',
  signaling: 'signaling…',
  ice: 'finding a network path (ICE)…',
  'secure-channel': 'securing the channel (DTLS/SCTP)…',
  ready: 'connected',
  failed: 'failed',
  closed: 'closed',
};

export class DevicePanel {
  readonly element: HTMLElement;
  private readonly filterInput: HTMLInputElement;
  private readonly stateSelect: HTMLSelectElement;
  private readonly counts: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;
  private readonly heldNote: HTMLElement;
  private readonly virtualizer: Virtualizer<HTMLElement, HTMLElement>;
  private readonly unmount: () => void;
  /** the rows in the DOM, by agentId, with the entry each was built from */
  private readonly rows = new Map<string, { element: HTMLElement; signature: string }>();
  private source: () => readonly DeviceEntry[] = () => [];
  private entries: readonly DeviceEntry[] = [];
  private shown: ShownEntry[] = [];
  /** the pointer is on the list: its rows keep their order and place (class comment) */
  private pointerOn = false;
  /** the agents whose rows the user clicked since the pointer came onto the list: their changes are shown at once */
  private readonly actedOn = new Set<string>();
  /** how many changes wait for the pointer to leave (holdBack) */
  private waiting = 0;
  private frame: number | undefined;
  private fallback: ReturnType<typeof setTimeout> | undefined;
  /** the agent the user chose last (a new pairing selects its agent), highlighted in the list */
  private selected: string | undefined;
  /** brought into view (and given the keyboard, if asked) once its row is listed */
  private pendingReveal: { agentId: string; focus: boolean } | undefined;

  constructor(private readonly actions: DevicePanelActions) {
    this.element = document.createElement('nav');
    this.element.className = 'device-panel agent-list';
    this.element.setAttribute('aria-label', 'Devices and containers');
    const heading = document.createElement('h2');
    heading.textContent = 'Devices';
    const pair = document.createElement('button');
    pair.type = 'button';
    pair.className = 'pair-agent';
    pair.dataset.testid = 'pair-agent';
    pair.textContent = 'Pair an agent';
    pair.title = 'pair with an agent from the token or QR code of "tether-agent pair" (works offline, over the LAN)';
    pair.addEventListener('click', () => this.actions.pair());

    this.filterInput = document.createElement('input');
    this.filterInput.type = 'search';
    this.filterInput.placeholder = 'Filter by name or id';
    this.filterInput.className = 'device-filter';
    this.filterInput.dataset.testid = 'device-filter';
    this.filterInput.setAttribute('aria-label', 'Filter devices by name or id');
    this.stateSelect = document.createElement('select');
    this.stateSelect.className = 'device-state-filter';
    this.stateSelect.dataset.testid = 'device-state-filter';
    this.stateSelect.setAttribute('aria-label', 'Show devices in this state');
    for (const value of ['all', ...DEVICE_STATES]) {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = value;
      this.stateSelect.append(option);
    }
    this.filterInput.addEventListener('input', () => this.refilter('catch-up'));
    this.stateSelect.addEventListener('change', () => this.refilter('catch-up'));
    const filters = document.createElement('div');
    filters.className = 'device-filters';
    filters.append(this.filterInput, this.stateSelect);

    this.counts = document.createElement('p');
    this.counts.className = 'device-counts';
    this.counts.dataset.testid = 'device-counts';
    this.empty = document.createElement('p');
    this.empty.className = 'empty';
    this.list = document.createElement('ul');
    this.list.className = 'device-rows';
    this.scroller = document.createElement('div');
    this.scroller.className = 'device-scroll';
    this.scroller.dataset.testid = 'device-list';
    this.scroller.append(this.list);
    this.list.addEventListener('click', (event) => this.onListClick(event));
    this.scroller.addEventListener('pointerenter', () => {
      this.pointerOn = true;
    });
    this.scroller.addEventListener('pointerleave', (event) => {
      // Chromium also says a mouse left when the element under it was removed (a row patched under
      // the pointer), and then that it entered again: it has left only if what is under it now is
      // not the list (elsewhere, or a dialog laid over the list). A finger or pen lifted has left.
      const under = document.elementFromPoint(event.clientX, event.clientY);
      if (event.pointerType === 'mouse' && under && this.scroller.contains(under)) return;
      this.release();
    });
    // Another window in front: the pointer resting where the list was aims at nothing here.
    window.addEventListener('blur', this.onWindowBlur);
    this.heldNote = document.createElement('p');
    this.heldNote.className = 'device-held';
    this.heldNote.dataset.testid = 'device-held';
    this.heldNote.hidden = true;
    // The counts and the note under the list: their lines come and go (a count grows, a filter adds
    // "shown"), and above it they moved every row.
    this.element.append(heading, pair, filters, this.empty, this.scroller, this.heldNote, this.counts);

    this.virtualizer = new Virtualizer<HTMLElement, HTMLElement>({
      count: 0,
      getScrollElement: () => this.scroller,
      estimateSize: () => ESTIMATED_ROW_PX,
      getItemKey: (index) => this.shown[index]?.agentId ?? index,
      overscan: OVERSCAN_ROWS,
      scrollToFn: elementScroll,
      observeElementRect,
      observeElementOffset,
      measureElement,
      indexAttribute: 'data-index',
      onChange: () => this.paint(),
    });
    this.unmount = this.virtualizer._didMount();
    this.virtualizer._willUpdate();
    this.refilter('catch-up');
  }

  /**
   * Shows the entries `source` gives, at the next frame: a burst of changes (a fleet's presence,
   * stages of many connections) costs one render.
   */
  render(source: readonly DeviceEntry[] | (() => readonly DeviceEntry[])): void {
    this.source = typeof source === 'function' ? source : () => source;
    if (this.frame !== undefined) return;
    const run = () => {
      if (this.frame !== undefined) cancelAnimationFrame(this.frame);
      clearTimeout(this.fallback);
      this.frame = undefined;
      this.fallback = undefined;
      this.entries = this.source();
      this.refilter('live');
    };
    this.frame = requestAnimationFrame(run);
    this.fallback = setTimeout(run, RENDER_FALLBACK_MS);
  }

  /** Changes that wait for the pointer to leave the list (0 when it is not held). */
  get heldChanges(): number {
    return this.waiting;
  }

  /** The agents the filter shows now, in order (tests and the bench). */
  get shownAgentIds(): string[] {
    return this.shown.map((entry) => entry.agentId);
  }

  /** Scrolls the list so that the agent's row is in view; false when the filter hides it. */
  reveal(agentId: string): boolean {
    const index = this.shown.findIndex((entry) => entry.agentId === agentId);
    if (index < 0) return false;
    this.virtualizer.scrollToIndex(index, { align: 'center' });
    return true;
  }

  /**
   * Selects the agent: its row is highlighted and scrolled into view as soon as it is listed (a
   * newly paired agent appears at the next render), and takes the keyboard when `focus` is set.
   */
  select(agentId: string, options: { focus: boolean }): void {
    this.selected = agentId;
    this.pendingReveal = { agentId, ...options };
    this.refilter('catch-up');
  }

  get selectedAgentId(): string | undefined {
    return this.selected;
  }

  dispose(): void {
    window.removeEventListener('blur', this.onWindowBlur);
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    clearTimeout(this.fallback);
    this.unmount();
  }

  private readonly onWindowBlur = () => {
    if (this.pointerOn) this.release();
  };

  /** The pointer has left the list: it shows everything that waited. */
  private release(): void {
    this.pointerOn = false;
    this.actedOn.clear();
    this.refilter('catch-up');
  }

  /**
   * Filters and orders the entries into the rows shown. A change that came from outside (`live`)
   * is held back while the pointer is on the list; the user's own (the filter, a selection, the
   * pointer leaving) shows everything at once.
   */
  private refilter(why: 'live' | 'catch-up'): void {
    const text = this.filterInput.value.trim().toLowerCase();
    const state = this.stateSelect.value as DeviceState | 'all';
    const counts = new Map<DeviceState, number>(DEVICE_STATES.map((s) => [s, 0]));
    const fresh: DeviceEntry[] = [];
    for (const entry of this.entries) {
      for (const s of DEVICE_STATES) if (inState(entry, s)) counts.set(s, (counts.get(s) ?? 0) + 1);
      if (state !== 'all' && !inState(entry, state)) continue;
      if (text && !entry.name.toLowerCase().includes(text) && !entry.agentId.toLowerCase().includes(text)) continue;
      fresh.push(entry);
    }
    const held = why === 'live' && this.pointerOn ? this.holdBack(fresh) : { shown: fresh, waiting: 0 };
    const shown = held.shown;
    this.shown = shown;
    this.waiting = held.waiting;
    this.heldNote.dataset.count = String(held.waiting);
    this.heldNote.hidden = held.waiting === 0;
    this.heldNote.textContent =
      held.waiting === 0
        ? ''
        : `${held.waiting === 1 ? '1 change waits' : `${held.waiting} changes wait`} while the pointer is on the list`;
    // What the filter matches, whether or not it waits.
    this.renderCounts(counts, fresh.length);
    if (this.entries.length === 0) this.empty.textContent = 'No agent is known yet; agents appear here when they come online, or pair one.';
    else this.empty.textContent = shown.length === 0 ? 'No agent matches the filter.' : '';
    this.empty.hidden = this.empty.textContent === '';
    this.virtualizer.setOptions({ ...this.virtualizer.options, count: shown.length });
    this.virtualizer._willUpdate();
    this.paint();
    const pending = this.pendingReveal;
    if (pending && this.reveal(pending.agentId)) {
      this.pendingReveal = undefined;
      this.paint();
      if (pending.focus) {
        const row = this.rows.get(pending.agentId)?.element;
        (row?.querySelector<HTMLElement>('.agent-action') ?? row)?.focus();
      }
    }
  }

  /**
   * The rows as they were, with their contents as they are now: agents keep their places, those
   * that joined wait, those that left stay (disabled); each row keeps its containers, in their
   * order, with their states as they are now. Returns how many changes wait.
   */
  private holdBack(fresh: readonly DeviceEntry[]): { shown: ShownEntry[]; waiting: number } {
    const now = new Map(this.entries.map((entry) => [entry.agentId, entry]));
    const matching = new Set(fresh.map((entry) => entry.agentId));
    const before = new Set(this.shown.map((entry) => entry.agentId));
    let waiting = fresh.filter((entry) => !before.has(entry.agentId)).length;
    const shown = this.shown.map((was): ShownEntry => {
      const entry = now.get(was.agentId);
      if (!entry) {
        waiting += 1;
        return was.gone ? was : { ...was, gone: true };
      }
      // Listed but no longer matching the filter (another state): it moves out when the pointer leaves.
      if (!matching.has(entry.agentId)) waiting += 1;
      if (this.actedOn.has(entry.agentId)) return entry;
      const targets = new Map(entry.targets.map((target) => [target.name, target]));
      const kept = new Set(was.targets.map((target) => target.name));
      waiting += entry.targets.filter((target) => !kept.has(target.name)).length;
      const removedTargets = was.targets.filter((target) => !targets.has(target.name)).map((target) => target.name);
      waiting += removedTargets.length;
      const unchanged = removedTargets.length === 0 && was.targets.length === entry.targets.length;
      if (unchanged && was.targets.every((target, i) => entry.targets[i]?.name === target.name)) return entry;
      return {
        ...entry,
        targets: was.targets.map((target) => targets.get(target.name) ?? target),
        ...(removedTargets.length > 0 ? { removedTargets } : {}),
      };
    });
    return { shown, waiting };
  }

  private renderCounts(counts: Map<DeviceState, number>, shown: number): void {
    const parts: HTMLElement[] = [];
    const part = (key: string, value: number, text: string) => {
      const span = document.createElement('span');
      span.dataset.state = key;
      span.dataset.count = String(value);
      span.textContent = `${value.toLocaleString('en')} ${text}`;
      parts.push(span);
    };
    part('all', this.entries.length, this.entries.length === 1 ? 'agent' : 'agents');
    for (const state of DEVICE_STATES) part(state, counts.get(state) ?? 0, state);
    if (shown !== this.entries.length) part('shown', shown, 'shown');
    this.counts.replaceChildren(...parts);
  }

  /** Puts the rows in view in the DOM, reusing those whose entry did not change. */
  private paint(): void {
    const items = this.virtualizer.getVirtualItems();
    this.list.style.height = `${this.virtualizer.getTotalSize()}px`;
    const keep = new Set<string>();
    const ordered: HTMLElement[] = [];
    for (const item of items) {
      const entry = this.shown[item.index];
      if (!entry) continue;
      keep.add(entry.agentId);
      const signature = `${entry.agentId === this.selected ? '*' : ''}${JSON.stringify(entry)} ${hostColour(entry.agentId)}`;
      let row = this.rows.get(entry.agentId);
      if (!row) {
        row = { element: this.renderAgent(entry), signature };
        this.rows.set(entry.agentId, row);
      } else if (row.signature !== signature) {
        // In place: the elements under the pointer, and the one with the keyboard, stay the same.
        morphdom(row.element, this.renderAgent(entry), { getNodeKey: nodeKey });
        row.signature = signature;
      }
      row.element.dataset.index = String(item.index);
      row.element.style.transform = `translateY(${item.start}px)`;
      ordered.push(row.element);
    }
    for (const [agentId, row] of this.rows) {
      if (keep.has(agentId)) continue;
      row.element.remove();
      this.rows.delete(agentId);
    }
    // Appended in order (moving only what is out of place), then measured: heights vary with the containers listed.
    ordered.forEach((element, i) => {
      if (this.list.children[i] !== element) this.list.insertBefore(element, this.list.children[i] ?? null);
    });
    for (const element of ordered) this.virtualizer.measureElement(element);
  }

  /** A click on a row's button, answered from the entry as it is now (the row may have been patched since it was drawn). */
  private onListClick(event: MouseEvent): void {
    const button = (event.target as Element | null)?.closest<HTMLButtonElement>('button');
    const agentId = button?.closest<HTMLElement>('[data-testid="agent"]')?.dataset.agentId;
    if (!button || button.disabled || agentId === undefined) return;
    const entry = this.entries.find((e) => e.agentId === agentId);
    if (!entry) return;
    this.actedOn.add(agentId);
    if (button.dataset.testid === 'target') {
      const target = entry.targets.find((t) => t.name === button.dataset.targetName);
      if (target) this.actions.openTarget(agentId, target);
    } else if (button.dataset.testid === 'agent-disconnect') this.actions.disconnect(agentId);
    else if (button.dataset.testid === 'agent-connect') this.actions.connect(agentId);
  }

  private renderAgent(entry: ShownEntry): HTMLElement {
    const item = document.createElement('li');
    item.className = `agent ${entry.online ? 'online' : 'offline'}`;
    item.dataset.testid = 'agent';
    item.dataset.agentId = entry.agentId;
    item.dataset.online = String(entry.online);
    // the host's colour, as on its tabs
    item.dataset.hostColour = hostColour(entry.agentId);
    item.style.setProperty('--host-colour', item.dataset.hostColour);
    item.dataset.dot = dotOf(entry);
    item.dataset.unanswered = String(entry.unansweredMs !== undefined);
    item.dataset.selected = String(entry.agentId === this.selected);
    item.dataset.gone = String(entry.gone === true);
    item.tabIndex = -1;
    if (entry.agentId === this.selected) item.setAttribute('aria-current', 'true');
    const header = document.createElement('div');
    header.className = 'agent-header';
    const name = document.createElement('span');
    name.className = 'agent-name';
    name.textContent = entry.name;
    name.title = `${entry.name} · ${entry.agentId}${entry.version ? ` · v${entry.version}` : ''}${entry.unansweredMs === undefined ? '' : ` · ${unansweredText(entry.unansweredMs)}`}`;
    const stage = entry.stage;
    const state = document.createElement('span');
    state.className = `connection-state stage-${stage.kind}`;
    state.dataset.testid = 'connection-state';
    state.dataset.stage = stage.kind;
    state.dataset.reconnecting = String(entry.reconnectAttempt !== undefined);
    if (entry.gone) state.textContent = 'no longer listed';
    else if (entry.reconnectAttempt !== undefined && stage.kind !== 'ready') {
      state.textContent = `connection lost — reconnecting (attempt ${Math.max(1, entry.reconnectAttempt)})…${entry.online ? '' : ' · offline'}`;
    } else if (!entry.online && entry.presenceUnknown) {
      // Not the agent's fault: at 2 a.m. "offline" on every row reads as every host down.
      state.textContent = 'not known: the signaling server does not answer';
      state.dataset.unknown = 'true';
    } else if (!entry.online) state.textContent = 'offline';
    else if (stage.kind === 'failed') {
      state.textContent = `failed: ${stage.code ? `${stage.code} — ` : ''}${stage.reason}`;
      state.dataset.code = stage.code ?? '';
    } else if (stage.kind === 'ready' && entry.path) {
      state.textContent = `connected · ${entry.path.kind}${entry.path.rttMs === undefined ? '' : ` · ${entry.path.rttMs.toFixed(1)} ms`}`;
    } else state.textContent = STAGE_TEXT[stage.kind];
    header.append(name);
    // The trust and route go on the state's line: the name, what an engineer reads first, keeps the header's width.
    const status = document.createElement('div');
    status.className = 'agent-status';
    status.append(state);
    item.dataset.paired = String(entry.paired);
    item.dataset.route = entry.route ?? '';
    if (entry.paired || entry.route) {
      const badge = document.createElement('span');
      badge.className = 'agent-trust';
      badge.dataset.testid = 'agent-route';
      badge.textContent = [
        entry.paired ? 'paired' : entry.pairingWarning ? 'not paired' : '',
        entry.route === 'lan' ? 'LAN' : entry.route === 'cloud' ? 'cloud' : '',
      ]
        .filter(Boolean)
        .join(' · ');
      badge.title = entry.paired
        ? 'paired with this console: its certificate fingerprint is pinned'
        : 'not paired: trusted through the signaling server';
      status.append(badge);
    }
    const live = stage.kind !== 'idle' && stage.kind !== 'failed' && stage.kind !== 'closed';
    if (entry.online && !entry.gone) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'agent-action';
      button.dataset.testid = live ? 'agent-disconnect' : 'agent-connect';
      button.textContent = live ? 'Disconnect' : 'Connect';
      button.title = live && entry.openTabs > 0 ? `ends the ${entry.openTabs} open tab(s) on this agent` : '';
      header.append(button);
    }
    item.dataset.warning = entry.pairingWarning?.kind ?? '';
    item.append(header, status);
    if (entry.pairingWarning?.kind === 'impostor') {
      // What a hostile signaling server would list to be clicked: said on the row, before any click.
      const warning = document.createElement('span');
      warning.className = 'agent-warning';
      warning.dataset.testid = 'agent-warning';
      warning.textContent = `not the paired “${entry.pairingWarning.pairedName}”: same name, another agent`;
      warning.title =
        'this console paired with an agent of this name, and this is not it: possibly an impostor listed by the signaling server';
      item.append(warning);
    }
    if (entry.engineProblem !== undefined && entry.online && !entry.gone) {
      const engine = document.createElement('span');
      engine.className = 'agent-note';
      engine.dataset.testid = 'agent-engine';
      engine.textContent = 'the Docker engine on this host does not answer: container states unknown';
      engine.title = entry.engineProblem;
      item.append(engine);
    }
    if (entry.listedAs !== undefined) {
      // The name above is the one the agent proved; the server's differs: said, never shown as its name.
      const listed = document.createElement('span');
      listed.className = 'agent-note';
      listed.dataset.testid = 'agent-listed-as';
      listed.textContent = `the signaling server lists it as “${entry.listedAs}”`;
      listed.title =
        'the name above is the one this paired agent gave over its pinned connection; the signaling server names it otherwise (stale, misconfigured or hostile)';
      item.append(listed);
    }
    item.append(this.renderTargets(entry));
    return item;
  }

  private renderTargets(entry: ShownEntry): HTMLElement {
    const list = document.createElement('ul');
    list.className = 'targets';
    const reachable = entry.online && entry.stage.kind === 'ready' && !entry.gone;
    if (entry.targets.length === 0) {
      if (reachable && entry.targetsKnown) list.append(emptyItem('This agent exposes no container.'));
      else if (!entry.online && entry.presenceUnknown)
        list.append(emptyItem('Out of reach until the signaling server answers again (the agent may be running).'));
      else if (!entry.online) list.append(emptyItem('Offline: its containers cannot be reached.'));
      return list;
    }
    for (const target of entry.targets) {
      const removed = entry.removedTargets?.includes(target.name) === true;
      const state = removed ? 'removed' : reachable ? target.state : 'unreachable';
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `target state-${state}`;
      button.dataset.testid = 'target';
      button.dataset.targetName = target.name;
      button.dataset.state = state;
      button.disabled = !reachable || removed;
      const name = document.createElement('span');
      name.className = 'target-name';
      name.textContent = target.name;
      const badge = document.createElement('span');
      badge.className = 'target-state';
      badge.dataset.testid = 'target-state';
      badge.textContent = state;
      const tabs = entry.openTargets.filter(
        (t) => t === target.name || t === target.id || (t.length >= 12 && target.id.startsWith(t)),
      ).length;
      button.dataset.openTabs = String(tabs);
      button.append(name);
      if (tabs > 0) {
        const mark = document.createElement('span');
        mark.className = 'target-tabs';
        mark.dataset.testid = 'target-tabs';
        mark.textContent = tabs === 1 ? '1 tab' : `${tabs} tabs`;
        button.append(mark);
      }
      button.append(badge);
      button.title = removed
        ? `${target.name} · no longer listed by the agent`
        : `${target.name} · ${target.image} · ${target.id.slice(0, 12)} — open a terminal${tabs > 0 ? ` (${tabs} open already)` : ''}`;
      item.dataset.key = `target:${target.name}`;
      item.append(button);
      list.append(item);
    }
    return list;
  }
}

/** The agent's dot, the same state its tabs show: reconnecting (amber) and failed (red) are never green. */
export function dotOf(entry: DeviceEntry): 'offline' | 'reconnecting' | 'failed' | 'connecting' | 'connected' | 'online' {
  if (entry.reconnectAttempt !== undefined && entry.stage.kind !== 'ready') return 'reconnecting';
  if (!entry.online) return 'offline';
  if (entry.stage.kind === 'failed') return 'failed';
  if (entry.stage.kind === 'ready') return 'connected';
  return entry.stage.kind === 'idle' || entry.stage.kind === 'closed' ? 'online' : 'connecting';
}

/** morphdom's key for an element: a container's item keeps its element when the list above it changes. */
function nodeKey(node: Node): string | undefined {
  return node instanceof HTMLElement ? node.dataset.key : undefined;
}

function emptyItem(text: string): HTMLElement {
  const item = document.createElement('li');
  item.className = 'empty';
  item.textContent = text;
  return item;
}
