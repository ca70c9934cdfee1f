/** An item of the tab's menu. */
export interface MenuItem {
  label: string;
  testid: string;
  disabled?: boolean;
  /** why it is disabled, as a tooltip */
  title?: string;
  run(): void;
}

/**
 * The tab's menu (right-click on a tab, or its ⋯ button): a small popup at `at`, closed by a choice,
 * Escape, or a click elsewhere. Arrow keys move between items.
 */
export function openTabMenu(items: MenuItem[], at: { x: number; y: number }): void {
  document.querySelector('.tab-menu')?.remove();
  const menu = document.createElement('div');
  menu.className = 'tab-menu';
  menu.dataset.testid = 'tab-menu';
  menu.setAttribute('role', 'menu');
  const close = () => {
    document.removeEventListener('mousedown', outside, true);
    document.removeEventListener('keydown', onKey, true);
    menu.remove();
  };
  const outside = (event: MouseEvent) => {
    if (!menu.contains(event.target as Node)) close();
  };
  const buttons = items.map((item) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('role', 'menuitem');
    button.dataset.testid = item.testid;
    button.textContent = item.label;
    button.disabled = item.disabled === true;
    if (item.title) button.title = item.title;
    button.addEventListener('click', () => {
      close();
      item.run();
    });
    menu.append(button);
    return button;
  });
  const onKey = (event: KeyboardEvent) => {
    const enabled = buttons.filter((b) => !b.disabled);
    const at = enabled.indexOf(document.activeElement as HTMLButtonElement);
    if (event.key === 'Escape') close();
    else if (event.key === 'ArrowDown') enabled[(at + 1) % enabled.length]?.focus();
    else if (event.key === 'ArrowUp') enabled[(at - 1 + enabled.length) % enabled.length]?.focus();
    else return;
    event.preventDefault();
    event.stopPropagation();
  };
  document.addEventListener('mousedown', outside, true);
  document.addEventListener('keydown', onKey, true);
  menu.style.left = `${Math.min(at.x, window.innerWidth - 200)}px`;
  menu.style.top = `${Math.min(at.y, window.innerHeight - 40 * items.length)}px`;
  document.body.append(menu);
  buttons.find((b) => !b.disabled)?.focus();
}
