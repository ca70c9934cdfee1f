/**
 * A small menu over the page (the tab menu, the list of every tab, the workspaces): opened at a
 * point or under a button, closed by a choice, Escape or a click outside. Arrow keys move between
 * its items; the item's action runs after the menu has closed.
 */
export interface MenuItem {
  label: string;
  /** a second line or a right-hand note, e.g. a tab's state */
  note?: string;
  /** a checkbox item: shown ticked */
  checked?: boolean;
  /** a colour swatch before the label (a host's colour) */
  swatch?: string;
  disabled?: boolean;
  /** a tooltip: why the item is disabled */
  title?: string;
  testid?: string;
  /** data-* attributes for tests and styles */
  data?: Record<string, string>;
  action(): void;
}

export type MenuEntry = MenuItem | 'separator';

/** Opens the menu; resolves when it closes (after the chosen action ran). */
export function openPopupMenu(
  entries: readonly MenuEntry[],
  at: { x: number; y: number } | HTMLElement,
  options: { testid?: string; label?: string } = {},
): Promise<void> {
  document.querySelector('.popup-menu')?.dispatchEvent(new Event('tether-close'));
  return new Promise((resolve) => {
    const menu = document.createElement('div');
    menu.className = 'popup-menu';
    menu.setAttribute('role', 'menu');
    if (options.label) menu.setAttribute('aria-label', options.label);
    if (options.testid) menu.dataset.testid = options.testid;
    const buttons: HTMLButtonElement[] = [];
    let chosen: MenuItem | undefined;
    const close = () => {
      document.removeEventListener('mousedown', onOutside, true);
      document.removeEventListener('keydown', onKey, true);
      menu.remove();
      if (chosen && !chosen.disabled) chosen.action();
      resolve();
    };
    const onOutside = (event: MouseEvent) => {
      if (!menu.contains(event.target as Node)) close();
    };
    const onKey = (event: KeyboardEvent) => {
      const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
      if (event.key === 'Escape') close();
      else if (event.key === 'ArrowDown') buttons[(at + 1) % buttons.length]?.focus();
      else if (event.key === 'ArrowUp') buttons[(at - 1 + buttons.length) % buttons.length]?.focus();
      else return;
      event.preventDefault();
      event.stopPropagation();
    };
    for (const entry of entries) {
      if (entry === 'separator') {
        menu.append(Object.assign(document.createElement('hr'), { className: 'menu-separator' }));
        continue;
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'menu-item';
      button.setAttribute('role', entry.checked === undefined ? 'menuitem' : 'menuitemcheckbox');
      if (entry.checked !== undefined) button.setAttribute('aria-checked', String(entry.checked));
      button.disabled = entry.disabled ?? false;
      if (entry.title) button.title = entry.title;
      if (entry.testid) button.dataset.testid = entry.testid;
      for (const [key, value] of Object.entries(entry.data ?? {})) button.dataset[key] = value;
      const mark = document.createElement('span');
      mark.className = 'menu-mark';
      mark.textContent = entry.checked ? '✓' : '';
      if (entry.swatch) {
        mark.classList.add('menu-swatch');
        mark.style.background = entry.swatch;
      }
      const label = document.createElement('span');
      label.className = 'menu-label';
      label.textContent = entry.label;
      button.append(mark, label);
      if (entry.note) button.append(Object.assign(document.createElement('span'), { className: 'menu-note', textContent: entry.note }));
      button.addEventListener('click', () => {
        chosen = entry;
        close();
      });
      buttons.push(button);
      menu.append(button);
    }
    menu.addEventListener('tether-close', close);
    document.body.append(menu);
    const point =
      at instanceof HTMLElement
        ? (() => {
            const box = at.getBoundingClientRect();
            return { x: box.right, y: box.bottom + 2, alignRight: true };
          })()
        : { ...at, alignRight: false };
    const width = menu.offsetWidth;
    const height = menu.offsetHeight;
    const left = point.alignRight ? point.x - width : point.x;
    menu.style.left = `${Math.max(4, Math.min(left, innerWidth - width - 4))}px`;
    menu.style.top = `${Math.max(4, Math.min(point.y, innerHeight - height - 4))}px`;
    document.addEventListener('mousedown', onOutside, true);
    document.addEventListener('keydown', onKey, true);
    buttons.find((b) => !b.disabled)?.focus();
  });
}
