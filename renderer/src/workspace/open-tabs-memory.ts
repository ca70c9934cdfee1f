/**
 * The tabs open now, kept through the host API so that a restarted console (a reload, a crash, an
 * Electron restart or update) reopens them and takes their shells back while the agents keep them
 * (DESIGN.md, "Resume"). Saved shortly after any change of the tabs, and every few seconds while
 * output moves the byte counts; never before the tabs of the last run were reopened.
 */
import type { Disposable } from '../base/emitter';
import { DisposableStore } from '../base/emitter';
import type { OpenTabs, PaneNode, SavedTab, TetherApi } from '../host/host';
import type { PageTab, TabSet } from '../tabs/tab-set';

/** How soon after a change the tabs are saved, and how often the byte counts are. */
const SAVE_DELAY_MS = 300;
const COUNTS_EVERY_MS = 2_000;

/** What a tab saves: where it runs and, while its shell may still run, the session to take back. */
export function savedTab(tab: PageTab, now: number): SavedTab {
  const session = tab.restorableSession;
  return {
    agentId: tab.agentId,
    agentName: tab.agentName,
    target: tab.target,
    ...(tab.customTitle ? { title: tab.customTitle } : {}),
    ...(session ? { sessionId: session.sessionId, received: tab.received, resumeGraceMs: session.resumeGraceMs } : {}),
    savedAt: session?.savedAt ?? now,
  };
}

/** A tab whose shell has ended, as the next run names it. */
function endedTab(tab: PageTab): { label: string; why: string } {
  const where = `${tab.target} on ${tab.agentName}`;
  const label = tab.customTitle ? `${tab.customTitle} (${where})` : where;
  const why =
    tab.state === 'exited'
      ? `its shell had exited${typeof tab.exitCode === 'number' ? ` (${tab.exitCode})` : ''}`
      : tab.state === 'gone'
        ? 'its shell was gone'
        : tab.state === 'failed'
          ? 'it had failed to open'
          : 'it was closed';
  return { label: label.slice(0, 400), why };
}

export class OpenTabsMemory implements Disposable {
  private readonly store = new DisposableStore();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = '';
  private started = false;

  constructor(
    private readonly host: TetherApi,
    private readonly tabs: TabSet,
    /** the split panes, as indexes into the tabs given */
    private readonly panes: (tabs: readonly PageTab[]) => PaneNode[],
  ) {}

  /** Loads what the last run saved. */
  load(): Promise<OpenTabs> {
    return this.host.openTabs.load().catch((error: unknown) => {
      console.warn(`[restore] the open tabs of the last run were not read: ${String(error)}`);
      return { tabs: [] };
    });
  }

  /** From now on every change is saved: the tabs of the last run have been reopened. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.store.add(this.tabs.onChange(() => this.saveSoon()));
    const counts = setInterval(() => this.save(), COUNTS_EVERY_MS);
    this.store.add({ dispose: () => clearInterval(counts) });
    this.save();
  }

  /** Saves now (the page is going away: a reload or the window closing). */
  flush(): void {
    if (this.started) this.save();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.store.dispose();
  }

  private saveSoon(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save();
    }, SAVE_DELAY_MS);
  }

  private save(): void {
    const now = Date.now();
    // Tabs whose shell has ended are not reopened: there is nothing left to take back. They are
    // named, so that the next run says what did not come back and why.
    const all = this.tabs.list();
    const tabs = all.filter((t) => t.live);
    const ended = all
      .filter((t) => !tabs.includes(t))
      .slice(0, 50)
      .map(endedTab);
    const active = tabs.findIndex((t) => t === this.tabs.active);
    const snapshot: OpenTabs = {
      tabs: tabs.map((t) => savedTab(t, now)),
      ...(active >= 0 ? { active } : {}),
      panes: this.panes(tabs),
      ...(ended.length > 0 ? { ended } : {}),
    };
    // savedAt moves with the clock: written at most every half minute unless something else changed.
    const key = JSON.stringify({ ...snapshot, tabs: snapshot.tabs.map((t) => ({ ...t, savedAt: Math.floor(t.savedAt / 30_000) })) });
    if (key === this.last) return;
    this.last = key;
    this.host.openTabs.save(snapshot).catch((error: unknown) => console.warn(`[restore] the open tabs were not saved: ${String(error)}`));
  }
}
