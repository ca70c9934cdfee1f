import type { Settings } from '../host/host';
import { SHORTCUTS } from './keybindings';
import type { CloudSignalingState } from '../connection/cloud-signaling';

export interface ToolbarActions {
  toggleTheme(): void;
  zoom(step: -1 | 0 | 1): void;
  openSettings(): void;
  /** the workspaces menu, under its button */
  openWorkspaces(button: HTMLElement): void;
}

/** The top bar: the signaling server's state, theme, font size, and the keyboard shortcuts. */
export class Toolbar {
  readonly element: HTMLElement;
  readonly status: HTMLElement;
  private readonly themeButton: HTMLButtonElement;
  private readonly fontSize: HTMLElement;

  constructor(
    private readonly signalingUrl: string,
    hostKind: 'electron' | 'browser',
    actions: ToolbarActions,
  ) {
    this.element = document.createElement('header');
    this.element.className = 'toolbar';
    const brand = document.createElement('span');
    brand.className = 'brand';
    brand.textContent = 'Tether';
    brand.title = hostKind === 'electron' ? 'desktop console' : 'web console';
    this.status = document.createElement('p');
    this.status.className = 'signaling-state';
    this.status.dataset.testid = 'signaling-state';
    const spacer = document.createElement('span');
    spacer.className = 'spacer';
    const button = (text: string, testid: string, label: string, action: () => void) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = text;
      b.dataset.testid = testid;
      b.title = label;
      b.setAttribute('aria-label', label);
      b.addEventListener('click', action);
      return b;
    };
    this.themeButton = button('', 'theme-toggle', 'switch between light and dark', () => actions.toggleTheme());
    this.fontSize = document.createElement('span');
    this.fontSize.className = 'font-size';
    this.fontSize.dataset.testid = 'font-size';
    const workspaces: HTMLButtonElement = button(
      'Workspaces ▾',
      'workspaces-open',
      'save the open tabs as a workspace, or reopen one',
      () => actions.openWorkspaces(workspaces),
    );
    const settings = button('⚙ Settings', 'settings-open', 'settings: connection, font, theme, keyboard shortcuts (Ctrl+,)', () =>
      actions.openSettings(),
    );
    settings.title = `Settings (Ctrl+,)\n\nKeyboard shortcuts:\n${SHORTCUTS.map(([keys, what]) => `${keys}: ${what}`).join('\n')}`;
    this.element.append(brand);
    if (hostKind === 'browser') {
      // Said in words on the page, not in a tooltip: whoever uses this browser profile can read them.
      const warning = document.createElement('span');
      warning.className = 'credential-warning';
      warning.dataset.testid = 'credential-warning';
      warning.textContent = '⚠ Web console: the console token is stored unencrypted in this browser';
      this.element.append(warning);
    }
    this.element.append(
      spacer,
      workspaces,
      button('A−', 'zoom-out', 'smaller font (Ctrl+-)', () => actions.zoom(-1)),
      this.fontSize,
      button('A+', 'zoom-in', 'larger font (Ctrl+=)', () => actions.zoom(1)),
      this.themeButton,
      settings,
    );
  }

  showSettings(settings: Settings): void {
    this.themeButton.textContent = settings.theme === 'dark' ? '☀ Light' : '☾ Dark';
    this.fontSize.textContent = `${settings.fontSize}px`;
  }

  /** `undefined`: no signaling server is configured; paired agents are reached over the LAN. */
  showSignaling(state: CloudSignalingState | undefined): void {
    if (!state) {
      this.status.dataset.state = 'none';
      this.status.classList.remove('error');
      this.status.textContent = 'No signaling server: paired agents over the LAN only';
      this.status.title = this.status.textContent;
      return;
    }
    this.status.dataset.state = state.kind;
    this.status.classList.toggle('error', state.kind === 'refused' || state.kind === 'disconnected');
    switch (state.kind) {
      case 'connecting':
        this.status.textContent = `Connecting to ${this.signalingUrl}…`;
        break;
      case 'connected':
        this.status.textContent = `Signaling: connected to ${this.signalingUrl}`;
        break;
      case 'disconnected':
        this.status.textContent = `Signaling: disconnected (${state.reason}); retrying…`;
        break;
      case 'refused':
        this.status.textContent = `Signaling refused the console: ${state.error.code} — ${state.error.message}`;
        break;
    }
    // Shown on one line with an ellipsis; the whole text on hover.
    this.status.title = this.status.textContent;
  }
}
