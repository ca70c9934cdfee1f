/**
 * Broadcast input: what is typed into one tab of the chosen set goes to every tab of the set (the
 * same command on several PLCs at once). The set is chosen tab by tab (the tab menu, Ctrl+Shift+B)
 * and each member says so, unmistakably, on its panel and in the strip. A tab leaves the set when
 * it closes. Keys reach only tabs whose shell is open: a tab reconnecting drops them as it does its own.
 */
import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import type { TabPanel } from './tab-panel';
import type { TerminalTab } from './terminal-tab';

type Tab = TerminalTab<TabPanel>;

export class Broadcast implements Disposable {
  private readonly members = new Map<string, { tab: Tab; store: DisposableStore }>();
  private readonly changeEmitter = new Emitter<void>();
  /** The set changed. */
  readonly onChange = this.changeEmitter.event;

  has(id: string): boolean {
    return this.members.has(id);
  }

  get size(): number {
    return this.members.size;
  }

  /** Adds the tab to the set, or takes it out. */
  toggle(tab: Tab): void {
    if (this.members.has(tab.id)) return this.remove(tab.id);
    const store = new DisposableStore();
    store.add(tab.panel.view.onInput((data) => this.typed(tab.id, data)));
    this.members.set(tab.id, { tab, store });
    this.changeEmitter.fire();
  }

  remove(id: string): void {
    const member = this.members.get(id);
    if (!member) return;
    member.store.dispose();
    this.members.delete(id);
    this.changeEmitter.fire();
  }

  dispose(): void {
    for (const member of this.members.values()) member.store.dispose();
    this.members.clear();
    this.changeEmitter.dispose();
  }

  private typed(from: string, data: string | Uint8Array): void {
    for (const [id, member] of this.members) if (id !== from) member.tab.panel.view.type(data);
  }
}
