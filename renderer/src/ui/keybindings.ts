/** The console's keyboard shortcuts, as terminal apps have them (Windows Terminal, VS Code, Tabby). */
export type Command =
  | { kind: 'next-tab' }
  | { kind: 'previous-tab' }
  | { kind: 'select-tab'; index: number }
  | { kind: 'close-tab' }
  | { kind: 'rename-tab' }
  | { kind: 'find' }
  | { kind: 'copy' }
  | { kind: 'paste' }
  | { kind: 'zoom-in' }
  | { kind: 'zoom-out' }
  | { kind: 'zoom-reset' }
  | { kind: 'settings' }
  | { kind: 'split'; direction: 'row' | 'column' }
  | { kind: 'focus-pane'; direction: 'left' | 'right' | 'up' | 'down' }
  | { kind: 'broadcast' }
  | { kind: 'tab-menu' };

/** For the README and the help tooltip: what each shortcut does. */
export const SHORTCUTS: readonly [keys: string, what: string][] = [
  ['Ctrl+Tab / Ctrl+PageDown', 'next tab'],
  ['Ctrl+Shift+Tab / Ctrl+PageUp', 'previous tab'],
  ['Alt+1 … Alt+9', 'go to tab 1…9, as numbered (past the last tab: the last)'],
  ['Ctrl+Shift+W', 'close tab (asks while its shell runs)'],
  ['Ctrl+Shift+E', "rename tab (or double-click its title); F2 and the other function keys are the shell's"],
  ['Ctrl+Shift+F', 'find in scrollback'],
  ['Ctrl+Shift+C / Ctrl+Shift+V', 'copy / paste'],
  ['Ctrl+= / Ctrl+- / Ctrl+0', 'font size larger / smaller / default'],
  ['Alt+Shift+= / Alt+Shift+-', 'split: a new session beside / below the active tab'],
  ['Alt+← → ↑ ↓', 'move between split panes'],
  ['Ctrl+Shift+B', 'broadcast input: add the active tab to the tabs that get what is typed, or take it out'],
  ['Shift+F10 (or right-click a tab)', 'tab menu'],
  ['Ctrl+,', 'settings'],
];

/** The command for a key press, or undefined to let the terminal have the key. */
export function commandFor(event: KeyboardEvent): Command | undefined {
  const ctrl = event.ctrlKey || event.metaKey;
  const key = event.key;
  if (ctrl && key === 'Tab') return event.shiftKey ? { kind: 'previous-tab' } : { kind: 'next-tab' };
  if (ctrl && !event.shiftKey && key === 'PageDown') return { kind: 'next-tab' };
  if (ctrl && !event.shiftKey && key === 'PageUp') return { kind: 'previous-tab' };
  if (event.altKey && !ctrl && /^Digit[1-9]$/.test(event.code)) return { kind: 'select-tab', index: Number(event.code.slice(5)) - 1 };
  if (event.altKey && event.shiftKey && !ctrl && event.code === 'Equal') return { kind: 'split', direction: 'row' };
  if (event.altKey && event.shiftKey && !ctrl && event.code === 'Minus') return { kind: 'split', direction: 'column' };
  if (event.altKey && !event.shiftKey && !ctrl) {
    const direction = ({ ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down' } as const)[key as 'ArrowLeft'];
    if (direction) return { kind: 'focus-pane', direction };
  }
  if ((key === 'F10' && event.shiftKey && !ctrl && !event.altKey) || key === 'ContextMenu') return { kind: 'tab-menu' };
  if (ctrl && event.shiftKey) {
    switch (event.code) {
      case 'KeyW':
        return { kind: 'close-tab' };
      case 'KeyF':
        return { kind: 'find' };
      case 'KeyC':
        return { kind: 'copy' };
      case 'KeyV':
        return { kind: 'paste' };
      case 'KeyB':
        return { kind: 'broadcast' };
      case 'KeyE':
        return { kind: 'rename-tab' };
    }
  }
  if (ctrl && !event.altKey) {
    if (key === '=' || key === '+') return { kind: 'zoom-in' };
    if (key === '-' || key === '_') return { kind: 'zoom-out' };
    if (key === '0') return { kind: 'zoom-reset' };
    if (key === ',' && !event.shiftKey) return { kind: 'settings' };
  }
  return undefined;
}
