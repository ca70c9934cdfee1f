/**
 * The settings screen, reachable at any time (the toolbar's Settings, Ctrl+,): the terminal's font,
 * size and theme (applied as they change), the connection (signaling server, console token, ICE
 * and TURN servers as fields; saved together, then the console reconnects), where credentials are
 * kept, and the keyboard shortcuts. It reports what the user changed through its events and owns
 * nothing else.
 */
import type { CredentialStatus } from '../host/host';
import { Emitter, type Disposable } from '../base/emitter';
import { TERMINAL_FONTS, type TerminalFontId } from '../terminal/fonts';
import type { ThemeName } from '../terminal/themes';
import { SHORTCUTS } from '../ui/keybindings';
import { IceServerFields } from './ice-server-fields';
import { element } from '../ui/dom';
import { field } from './settings-field';

export interface AppearanceSettings {
  theme: ThemeName;
  fontSize: number;
  fontFamily: TerminalFontId;
  copyOnSelect: boolean;
}

/** Where the console connects: empty `signalingUrl` for a console that reaches paired agents over the LAN only. */
export interface ConnectionSettings {
  signalingUrl: string;
  token: string;
  iceServers: RTCIceServer[];
}

export interface SettingsScreenOptions {
  appearance: AppearanceSettings;
  connection: ConnectionSettings;
  credentials: CredentialStatus;
  minFontSize: number;
  maxFontSize: number;
}

export class SettingsScreen implements Disposable {
  readonly element: HTMLElement;
  private readonly appearanceEmitter = new Emitter<Partial<AppearanceSettings>>();
  private readonly connectionEmitter = new Emitter<ConnectionSettings>();
  private readonly closedEmitter = new Emitter<void>();
  /** An appearance setting changed (applied at once). */
  readonly onAppearance = this.appearanceEmitter.event;
  /** "Save and reconnect": the connection settings, checked. */
  readonly onSaveConnection = this.connectionEmitter.event;
  readonly onClosed = this.closedEmitter.event;
  private readonly ice: IceServerFields;
  private readonly problem: HTMLElement;
  private readonly onKey = (event: KeyboardEvent) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    event.stopPropagation();
    this.dispose();
  };

  constructor(options: SettingsScreenOptions) {
    this.element = element('div', { className: 'dialog-backdrop settings-backdrop' });
    const screen = element('section', { className: 'dialog settings' }, 'settings');
    screen.setAttribute('role', 'dialog');
    screen.setAttribute('aria-modal', 'true');
    screen.setAttribute('aria-label', 'Settings');
    const header = element('header', { className: 'settings-header' });
    const close = element('button', { type: 'button', className: 'settings-close', textContent: 'Close' }, 'settings-close');
    close.addEventListener('click', () => this.dispose());
    header.append(element('h2', { textContent: 'Settings' }), close);

    // Appearance: applied as it changes.
    const appearance = element('fieldset', { className: 'settings-section' });
    appearance.append(element('legend', { textContent: 'Terminal' }));
    const font = element('select', {}, 'settings-font');
    for (const f of TERMINAL_FONTS)
      font.append(element('option', { value: f.id, textContent: f.label, selected: f.id === options.appearance.fontFamily }));
    font.addEventListener('change', () => this.appearanceEmitter.fire({ fontFamily: font.value as TerminalFontId }));
    const size = element(
      'input',
      {
        type: 'number',
        min: String(options.minFontSize),
        max: String(options.maxFontSize),
        step: '1',
        value: String(options.appearance.fontSize),
      },
      'settings-font-size',
    );
    size.addEventListener('change', () => {
      const value = Math.round(Number(size.value));
      if (Number.isFinite(value) && value >= options.minFontSize && value <= options.maxFontSize)
        this.appearanceEmitter.fire({ fontSize: value });
    });
    const theme = element('select', {}, 'settings-theme');
    for (const [value, text] of [
      ['dark', 'Dark'],
      ['light', 'Light'],
    ] as const)
      theme.append(element('option', { value, textContent: text, selected: value === options.appearance.theme }));
    theme.addEventListener('change', () => this.appearanceEmitter.fire({ theme: theme.value as ThemeName }));
    const copy = element('input', { type: 'checkbox', checked: options.appearance.copyOnSelect }, 'settings-copy-on-select');
    copy.addEventListener('change', () => this.appearanceEmitter.fire({ copyOnSelect: copy.checked }));
    appearance.append(
      field(
        'Font',
        font,
        "JetBrains Mono and DejaVu Mono come with the console; Japanese, Chinese, Korean and emoji use the system's Noto fonts.",
      ),
      field('Font size (px)', size),
      field('Theme', theme),
      field('Copy on select', copy),
    );

    // Connection: saved together, then the console reconnects (open tabs resume their shells).
    const connection = element('fieldset', { className: 'settings-section' });
    connection.append(element('legend', { textContent: 'Connection' }));
    const url = element(
      'input',
      { type: 'url', value: options.connection.signalingUrl, placeholder: 'https://signaling.example.com' },
      'settings-signal',
    );
    const token = element('input', { type: 'password', value: options.connection.token, autocomplete: 'off' }, 'settings-token');
    this.ice = new IceServerFields(options.connection.iceServers, 'settings-ice');
    this.problem = element('p', { className: 'error', hidden: true }, 'settings-problem');
    const save = element('button', { type: 'button', className: 'primary', textContent: 'Save and reconnect' }, 'settings-save-connection');
    save.addEventListener('click', () => {
      const ice = this.ice.read();
      const signalingUrl = url.value.trim();
      const problem = !ice.ok
        ? ice.problem
        : signalingUrl && !/^https?:\/\//i.test(signalingUrl)
          ? 'The signaling server address starts with http:// or https://.'
          : signalingUrl && !token.value.trim()
            ? 'A signaling server needs the console token its operator gave you.'
            : undefined;
      this.problem.hidden = !problem;
      this.problem.textContent = problem ?? '';
      if (problem || !ice.ok) return;
      this.connectionEmitter.fire({ signalingUrl, token: token.value.trim(), iceServers: ice.servers });
    });
    const storage = element(
      'p',
      { className: options.credentials.encrypted ? 'settings-hint' : 'credential-warning' },
      'settings-credential-status',
    );
    // The host's description is a phrase ("encrypted with …", "stored unencrypted in …") or, in
    // Electron without a keyring, a sentence of its own: it follows a colon either way.
    storage.textContent = `${options.credentials.encrypted ? 'The' : 'Warning: the'} token and TURN passwords: ${options.credentials.description}.`;
    connection.append(
      field('Signaling server', url, 'Leave empty to reach only the agents you paired with, over the local network.'),
      field('Console token', token),
      element('span', { className: 'settings-label', textContent: 'STUN and TURN servers' }),
      this.ice.element,
      storage,
      this.problem,
      save,
    );

    const keys = element('fieldset', { className: 'settings-section' });
    keys.append(element('legend', { textContent: 'Keyboard shortcuts' }));
    const table = element('table', { className: 'shortcut-table' }, 'settings-shortcuts');
    for (const [combo, what] of SHORTCUTS) {
      const row = element('tr');
      const keyCell = element('td');
      keyCell.append(element('kbd', { textContent: combo }));
      row.append(keyCell, element('td', { textContent: what }));
      table.append(row);
    }
    keys.append(table);

    const body = element('div', { className: 'settings-body' });
    body.append(appearance, connection, keys);
    screen.append(header, body);
    this.element.append(screen);
    this.element.addEventListener('click', (event) => {
      if (event.target === this.element) this.dispose();
    });
    document.addEventListener('keydown', this.onKey, true);
    document.body.append(this.element);
    font.focus();
  }

  dispose(): void {
    if (!this.element.isConnected) return;
    document.removeEventListener('keydown', this.onKey, true);
    this.element.remove();
    this.closedEmitter.fire();
    this.appearanceEmitter.dispose();
    this.connectionEmitter.dispose();
    this.closedEmitter.dispose();
  }
}
