/**
 * The tab menu (right-click on a tab, or Shift+F10 for the active one): the place where features
 * add what can be done with a tab. Each feature adds a provider that returns its entries for the
 * tab (split, broadcast, rename and close here in app.ts; file transfer's Upload… and Download…
 * the same way); the menu shows them in the order added, a separator between providers.
 */
import type { Disposable } from '../base/emitter';
import { openPopupMenu, type MenuEntry } from '../ui/popup-menu';
import type { PageTab } from './tab-set';

export type TabMenuProvider = (tab: PageTab) => readonly MenuEntry[];

export class TabMenu {
  private readonly providers: TabMenuProvider[] = [];

  /** Adds a feature's entries; disposing takes them out again. */
  add(provider: TabMenuProvider): Disposable {
    this.providers.push(provider);
    return { dispose: () => void this.providers.splice(this.providers.indexOf(provider) >>> 0, 1) };
  }

  /** Every provider's entries for `tab`, a separator between the groups. */
  entriesFor(tab: PageTab): MenuEntry[] {
    const groups = this.providers.map((provider) => provider(tab)).filter((entries) => entries.length > 0);
    return groups.flatMap((entries, i) => (i === 0 ? [...entries] : ['separator' as const, ...entries]));
  }

  open(tab: PageTab, at: { x: number; y: number } | HTMLElement): Promise<void> {
    return openPopupMenu(this.entriesFor(tab), at, { testid: 'tab-menu', label: `Tab ${tab.title}` });
  }
}
