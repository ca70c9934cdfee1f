import { AbandonedSessions } from './session/abandoned-sessions';
import type { AgentConnection } from './connection/agent-connection';
import { DeviceDirectory, type AgentNetwork } from './devices/device-directory';
import type { ConsoleConfig } from './console-config';
import { DevicePanel } from './devices/device-panel';
import { confirmDialog, promptDialog } from './ui/dialog';
import { DisposableStore, type Disposable } from './base/emitter';
import type { Settings, SettingsPatch, TetherApi } from './host/host';
import { commandFor, type Command } from './ui/keybindings';
import { CloudSignaling } from './connection/cloud-signaling';
import { TabSet } from './tabs/tab-set';
import type { SessionFactory } from './session/terminal-session';
import { webRtcSessions } from './session/webrtc-terminal-session';
import type { PageTab } from './tabs/tab-set';
import type { TerminalViewOptions } from './terminal/terminal-view';
import { Toolbar } from './ui/toolbar';
import { SidebarSash } from './ui/sidebar-sash';
import { SettingsScreen, type ConnectionSettings } from './settings/settings-screen';
import { ICE_CREDENTIAL, TOKEN_CREDENTIAL } from './console-config';
import { loadTerminalFont } from './terminal/fonts';
import { OpenTabsMemory } from './workspace/open-tabs-memory';
import { Workspaces } from './workspace/workspaces';
import { HOST_PALETTE, derivedHostColour, hostColour, hostColourChosen, setChosenHostColours } from './devices/host-colour';
import { openPopupMenu, type MenuEntry } from './ui/popup-menu';
import type { SplitDirection } from './tabs/pane-layout';
import type { SavedTab, Workspace } from './host/host';
import { openPairingDialog } from './pairing/pairing-dialog';
import { refuseStrayDrops } from './transfer/tab-transfers';
import type { ConsoleIdentity } from './trust/console-identity';
import { pairWithToken } from './pairing/pairing';
import type { PairedAgentRecord, TrustStore } from './trust/trust-store';
import { err, normalizeFingerprint, ok, parsePairingToken, protocolError, type ProtocolError, type Result } from '@tether/protocol';

/** The console's identity and the agents it paired with, loaded before the page starts. */
export interface ConsoleTrust {
  identity: ConsoleIdentity;
  store: TrustStore;
  paired: PairedAgentRecord[];
}

/**
 * How the console reaches agents and makes sessions: WebRTC and the browser's network in the
 * product; the test hooks wrap both (a test transport) to cut paths and send raw frames.
 */
export interface ConsoleTransports {
  sessions?: SessionFactory;
  network?: AgentNetwork;
}

/** The console page: toolbar, the device panel, and the tabs. */
export class ConsoleApp implements Disposable {
  readonly tabs: TabSet;
  readonly agents: DeviceDirectory;
  private readonly store = new DisposableStore();
  private readonly signaling: CloudSignaling | undefined;
  private readonly devices: DevicePanel;
  private readonly toolbar: Toolbar;
  private readonly sash: SidebarSash;
  /** shells of tabs closed while reconnecting, ended on their agent's next connection */
  readonly abandoned: AbandonedSessions;
  /** the open tabs, saved for the next run */
  private readonly openTabs: OpenTabsMemory;
  readonly workspaces: Workspaces;

  constructor(
    root: HTMLElement,
    private readonly config: ConsoleConfig,
    private readonly host: TetherApi,
    private settings: Settings,
    private readonly trust: ConsoleTrust,
    transports: ConsoleTransports = {},
  ) {
    // Without a signaling server the console reaches its paired agents over the LAN only.
    this.signaling = config.signalingUrl ? this.store.add(new CloudSignaling(config.signalingUrl, config.token)) : undefined;
    this.agents = this.store.add(
      new DeviceDirectory({
        signaling: this.signaling,
        host,
        iceServers: config.iceServers,
        identity: trust.identity,
        paired: trust.paired,
        savePaired: (record) => trust.store.savePairedAgent(record),
        resumeGraceFor: (agentId) => this.resumeGraceFor(agentId),
        ...(transports.network ? { network: transports.network } : {}),
      }),
    );
    this.toolbar = new Toolbar(config.signalingUrl, host.kind, {
      // A toolbar button gives the keyboard back to the terminal at once: typing goes on.
      toggleTheme: () => {
        void this.updateSettings({ theme: this.settings.theme === 'dark' ? 'light' : 'dark' });
        this.focusTerminal();
      },
      zoom: (step) => {
        this.zoom(step);
        this.focusTerminal();
      },
      openSettings: () => void this.openSettings(),
      openWorkspaces: (button) => void this.openWorkspacesMenu(button),
    });
    this.devices = new DevicePanel({
      connect: (agentId) => void this.whenTrusted(agentId, () => this.agents.connect(agentId)),
      disconnect: (agentId) => void this.disconnectAgent(agentId),
      openTarget: (agentId, target) => void this.whenTrusted(agentId, () => this.openTab(agentId, target.name)),
      pair: () => void this.openPairing(),
    });
    this.tabs = this.store.add(new TabSet(() => this.viewOptions(), transports.sessions ?? webRtcSessions));
    this.abandoned = this.store.add(new AbandonedSessions());
    this.openTabs = this.store.add(new OpenTabsMemory(host, this.tabs, (tabs) => this.tabs.panes.save(tabs.map((t) => t.id))));
    this.workspaces = this.store.add(new Workspaces(host));
    // One tab menu: the console's entries, then the tab's file transfers.
    this.store.add(this.tabs.menu.add((tab) => this.tabMenuEntries(tab)));
    this.store.add(this.tabs.menu.add((tab) => this.tabs.transfersOf(tab.id)?.menuItems() ?? []));
    const sidebar = document.createElement('aside');
    sidebar.className = 'sidebar';
    sidebar.append(this.toolbar.status, this.devices.element);
    const main = document.createElement('main');
    main.className = 'workspace';
    main.append(this.tabs.strip.element, this.tabs.panels);
    this.sash = this.store.add(new SidebarSash(sidebar, (sidebarWidth) => void this.updateSettings({ sidebarWidth })));
    const body = document.createElement('div');
    body.className = 'console-body';
    body.append(sidebar, this.sash.element, main);
    root.replaceChildren(this.toolbar.element, body);

    if (this.signaling) this.store.add(this.signaling.onState((state) => this.toolbar.showSignaling(state)));
    this.store.add(this.agents.onChange(() => this.refresh()));
    this.store.add(this.tabs.onChange(() => this.renderDevices()));
    // Capture phase: before xterm's textarea sends the keys to the shell.
    this.store.listen(window, 'keydown', (event) => this.onKey(event as KeyboardEvent), true);
    // Closing or reloading asks while shells run (the browser's own question; Electron asks in main).
    // The shells are not ended: the agents keep them, and the next run takes them back.
    this.store.listen(window, 'beforeunload', (event) => {
      if (!this.tabs.list().some((t) => t.running)) return;
      event.preventDefault();
      (event as BeforeUnloadEvent).returnValue = '';
    });
    this.store.add(refuseStrayDrops(window));
    // Whatever dialog closes (a question, a transfer's, the pairing one), the keyboard goes back to
    // the active terminal, not to the button that opened it; a text field outside the terminal
    // keeps it (a rename in progress).
    const dialogs = new MutationObserver((records) => {
      const closed = records.some((r) =>
        [...r.removedNodes].some((n) => n instanceof HTMLElement && n.classList.contains('dialog-backdrop')),
      );
      if (!closed || document.querySelector('.dialog-backdrop')) return;
      if (document.activeElement?.closest('input, textarea:not(.xterm-helper-textarea), select')) return;
      this.focusTerminal();
    });
    dialogs.observe(document.body, { childList: true });
    this.store.add({ dispose: () => dialogs.disconnect() });
    // The reconnecting banners show elapsed time, and resumes wait on the agent's reconnection.
    const ticker = setInterval(() => {
      if (this.abandoned.size > 0 || this.tabs.list().some((t) => t.state === 'reconnecting')) this.refresh();
    }, 1_000);
    this.store.add({ dispose: () => clearInterval(ticker) });
    this.applySettings();
    this.toolbar.showSignaling(this.signaling?.state);
    this.renderDevices();
    this.signaling?.connect();
  }

  /** Pairs with the agent of a token (pasted or scanned) and lists it; the agent's refusal as a value. */
  async pair(text: string): Promise<Result<{ name: string; agentId: string }, ProtocolError>> {
    const changed = this.identityChange(text);
    if (changed) {
      // As ssh says when a host key changed: the agent's pin, its tabs and their resumes would now
      // point to another machine. Asked before the token is spent.
      const replace = await confirmDialog({
        title: `${changed.name} was paired with another identity`,
        message:
          `This token names the agent “${changed.name}” (${changed.agentId}), which this console paired with on ` +
          `${new Date(changed.pairedAt).toLocaleString()}, but with another certificate: ${changed.was.slice(0, 23)}… then, ` +
          `${changed.now.slice(0, 23)}… now. If that agent was reinstalled or its state folder reset, replace the pairing. ` +
          'If not, this token may not come from it: keep the pairing and ask whoever runs the host.',
        accept: 'Replace the pairing',
        cancel: 'Keep the pairing',
      });
      if (!replace) return err(protocolError('FORBIDDEN', `not paired: the pairing with ${changed.name} was kept, with its certificate`));
    }
    const paired = await pairWithToken(text, this.trust.identity, this.trust.store, `Tether console (${this.host.kind})`);
    if (!paired.ok) return err(paired.error);
    this.agents.addPaired(paired.value.record, paired.value.signaling);
    return ok({ name: paired.value.record.name, agentId: paired.value.record.agentId });
  }

  /** The paired agent a token names with another certificate than the one pinned, if any. */
  private identityChange(text: string): { agentId: string; name: string; pairedAt: number; was: string; now: string } | undefined {
    const token = parsePairingToken(text);
    if (!token.ok) return undefined;
    const pinned = this.agents.pairedAgents().find((a) => a.agentId === token.value.agentId);
    const now = normalizeFingerprint(token.value.fingerprint);
    if (!pinned || normalizeFingerprint(pinned.fingerprint) === now) return undefined;
    return { agentId: pinned.agentId, name: pinned.name, pairedAt: pinned.pairedAt, was: pinned.fingerprint, now };
  }

  /** The pairing dialog; a new agent is selected in the list, and the keyboard goes back to the terminal. */
  private async openPairing(): Promise<void> {
    const paired = await openPairingDialog({ pair: (text) => this.pair(text) });
    if (paired) this.devices.select(paired.agentId, { focus: !this.tabs.active });
    this.focusTerminal();
  }

  get consoleFingerprint(): string {
    return this.trust.identity.fingerprint;
  }

  /** Opens a tab on `target` (a container name or id); it connects the agent if needed. */
  openTab(agentId: string, target: string): PageTab {
    const record = this.agents.get(agentId);
    if (!record?.online) throw new Error(`agent ${agentId} is not online`);
    const tab = this.newTab({ agentId, agentName: record.name, target });
    tab.follow(this.agents.connect(agentId));
    return tab;
  }

  /**
   * Reopens the tabs of the last run (a reload, a restart): each takes its shell back once its
   * agent is connected, while the agent keeps it; a tab without one opens a new shell. From then
   * on the open tabs are saved for the next run.
   */
  async restoreTabs(): Promise<void> {
    const saved = await this.openTabs.load();
    const tabs = saved.tabs.map((entry) => this.restoreTab(entry));
    this.tabs.panes.load(
      saved.panes ?? [],
      tabs.map((t) => t.id),
    );
    const active = tabs[saved.active ?? -1];
    if (active) this.tabs.activate(active.id);
    const ended = (saved.ended ?? []).map((t) => `${t.label}: ${t.why}`);
    if (ended.length > 0) {
      // What did not come back is said, not dropped: its output went with the page.
      const said = `Not reopened, their shells had ended before the console closed: ${ended.join('; ')}.`;
      const first = active ?? tabs[0];
      if (first) first.notice(`[${said}]`);
      else void confirmDialog({ title: 'Tabs not reopened', message: said, accept: 'OK' });
    }
    this.openTabs.start();
    this.refresh();
  }

  /** A new session on the active tab's container, shown beside it (`row`) or below it (`column`). */
  split(direction: SplitDirection, beside = this.tabs.active): PageTab | undefined {
    if (!beside) return undefined;
    if (!this.agents.get(beside.agentId)?.online) {
      beside.notice(`[${beside.agentName} is offline; a split opens a new session there once it is back]`);
      return undefined;
    }
    const tab = this.openTab(beside.agentId, beside.target);
    this.tabs.split(tab, beside, direction);
    return tab;
  }

  /** Saves the open tabs and their panes under `name` (replacing a workspace of that name). */
  async saveWorkspace(name: string): Promise<void> {
    const tabs = this.tabs.list();
    if (tabs.length === 0) return;
    await this.workspaces.save({
      name,
      tabs: tabs.map((t) => ({
        agentId: t.agentId,
        agentName: t.agentName,
        target: t.target,
        ...(t.customTitle ? { title: t.customTitle } : {}),
      })),
      panes: this.tabs.panes.save(tabs.map((t) => t.id)),
    });
  }

  /**
   * Opens every tab of the workspace, each with a new shell, in its panes; tabs of offline agents
   * are said, not opened, and so are those of agents not paired that the user has not agreed to
   * connect to this run (whenTrusted: a workspace is no way around its question).
   */
  openWorkspace(workspace: Workspace): PageTab[] {
    const unpaired = workspace.tabs.filter((saved) => this.agents.needsConsent(saved.agentId));
    // A container that already has a live tab is not opened twice: opening a workspace over its own
    // open tabs doubled them (and met the agent's sessions-per-container limit).
    const live = this.tabs.list().filter((t) => t.live);
    const taken = new Set<string>();
    let alreadyOpen = 0;
    const opened = workspace.tabs.map((saved) => {
      if (!this.agents.get(saved.agentId)?.online || unpaired.includes(saved)) return undefined;
      const existing = live.find((t) => !taken.has(t.id) && t.agentId === saved.agentId && t.target === saved.target);
      if (existing) {
        taken.add(existing.id);
        alreadyOpen++;
        return existing;
      }
      const tab = this.openTab(saved.agentId, saved.target);
      if (saved.title) this.tabs.rename(tab.id, saved.title);
      return tab;
    });
    this.tabs.panes.load(
      workspace.panes ?? [],
      opened.map((t) => t?.id),
    );
    const first = opened.find((t) => t !== undefined);
    if (first) this.tabs.activate(first.id);
    const missing = workspace.tabs
      .filter((saved, i) => !opened[i] && !unpaired.includes(saved))
      .map((t) => `${t.target} on ${t.agentName}`);
    const asked = unpaired.map((t) => `${t.target} on ${t.agentName}`);
    if (missing.length > 0 && first)
      first.notice(`[workspace ${workspace.name}: not opened, their agents are offline: ${missing.join(', ')}]`);
    if (alreadyOpen > 0 && first)
      first.notice(
        `[workspace ${workspace.name}: ${alreadyOpen} of its ${workspace.tabs.length} tabs were open already, and are not opened twice]`,
      );
    if (!first && (missing.length > 0 || asked.length > 0)) {
      // Nothing opened, so no tab to say it in.
      const why = [
        missing.length > 0 ? `agents offline: ${missing.join(', ')}` : '',
        asked.length > 0 ? `agents not paired with this console (connect to them from the device list first): ${asked.join(', ')}` : '',
      ].filter(Boolean);
      void confirmDialog({ title: `Workspace ${workspace.name} not opened`, message: `Its tabs are on ${why.join('; ')}.`, accept: 'OK' });
    }
    if (asked.length > 0 && first)
      first.notice(
        `[workspace ${workspace.name}: not opened, their agents are not paired with this console: ${asked.join(', ')}; connect to them from the device list first]`,
      );
    return opened.filter((t): t is PageTab => t !== undefined);
  }

  /** Saves what must outlive the page, which is going away; its shells are left to the agents to keep. */
  unload(): void {
    this.openTabs.flush();
  }

  private restoreTab(saved: SavedTab): PageTab {
    const tab = this.newTab({ agentId: saved.agentId, agentName: saved.agentName, target: saved.target });
    if (saved.title) this.tabs.rename(tab.id, saved.title);
    if (saved.sessionId && saved.resumeGraceMs)
      tab.restore({ sessionId: saved.sessionId, resumeGraceMs: saved.resumeGraceMs }, saved.savedAt);
    const record = this.agents.get(saved.agentId);
    if (record?.online) this.startRestored(tab);
    return tab;
  }

  /** A reopened tab waiting for its agent: connects it, to take the shell back or open a new one. */
  private startRestored(tab: PageTab): void {
    const connection = this.agents.connect(tab.agentId);
    if (tab.state === 'reconnecting') tab.resumeOn(connection);
    else if (tab.state === 'opening' && !tab.followed) tab.follow(connection);
  }

  private newTab(where: { agentId: string; agentName: string; target: string }): PageTab {
    const tab = this.tabs.create(where);
    tab.onReconnect(() => this.reconnect(tab));
    tab.onAbandon((session) => {
      this.abandoned.add(where.agentId, session);
      this.refresh();
    });
    return tab;
  }

  /** A new session in the tab: on the agent's live connection, or a new one once the agent is back. */
  reconnect(tab: PageTab): void {
    const record = this.agents.get(tab.agentId);
    if (!record?.online) {
      tab.notice(`[${tab.agentName} is still offline; Reconnect once the agent is back]`);
      return;
    }
    tab.notice(`[reconnecting to ${tab.target} on ${tab.agentName}: a new shell starts; the previous one has ended]`);
    tab.follow(this.agents.connect(tab.agentId));
    // The banner's button that asked for this goes away with the banner: the keyboard goes to the shell.
    if (this.tabs.active === tab) this.focusTerminal();
  }

  /**
   * Runs `then` once connecting to the agent is trusted: at once for a paired agent, and for any in
   * a console that has paired with none (it trusts the signaling server, as the agent does before
   * any console is enrolled). An unpaired agent in a console that pairs is one the signaling server
   * alone vouches for: whoever runs it could read and type in its terminals, so the user is asked,
   * once per agent and run. One that bears a paired agent's name is not connected at all: that is
   * how a hostile server would pass one of its own for a paired agent.
   */
  private async whenTrusted(agentId: string, then: () => void): Promise<void> {
    const warning = this.agents.pairingWarning(agentId);
    const record = this.agents.get(agentId);
    const run = () => {
      try {
        then();
      } catch (error) {
        console.warn(`[agent ${agentId}] ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    if (!warning || !record || record.serverTrusted) return run();
    if (warning.kind === 'impostor') {
      const pair = await confirmDialog({
        title: 'Not the agent you paired with',
        message:
          `This “${record.name}” is another agent than the “${warning.pairedName}” this console paired with: same name, ` +
          'another identity, not paired. It may be an impostor the signaling server lists in its place, to read and type in ' +
          'what you open on it. Connect to the paired one; if this is a new installation of that host, pair with it again ' +
          '(a token from `tether-agent pair` on the host).',
        accept: 'Pair with it…',
        cancel: 'Do not connect',
      });
      if (pair) void this.openPairing();
      return;
    }
    const connect = await confirmDialog({
      title: 'Connect without pairing?',
      message:
        `“${record.name}” is not paired with this console: only the signaling server vouches that it is the agent it ` +
        'names, and whoever runs that server could read and type in its terminals. Pair with it (a token from ' +
        '`tether-agent pair` on its host) to rule that out.',
      accept: 'Connect anyway',
      cancel: 'Cancel',
    });
    if (!connect) return;
    this.agents.trustUnpaired(agentId);
    run();
  }

  /**
   * Disconnect, as the user asked: each tab's session ends with `close` (the agent kills its shell
   * at once rather than keeping it for a resume), then the peer connection goes.
   */
  async disconnectAgent(agentId: string): Promise<void> {
    const tabs = this.tabs.list().filter((t) => t.agentId === agentId);
    await Promise.all(tabs.map((t) => t.endSession()));
    this.agents.disconnect(agentId);
  }

  /** A fresh connection to the agent, outside the device list, that the caller connects and disposes. */
  createConnection(agentId: string): AgentConnection {
    return this.agents.createConnection(agentId);
  }

  get currentSettings(): Settings {
    return this.settings;
  }

  async updateSettings(patch: SettingsPatch): Promise<void> {
    if (patch.fontFamily && patch.fontFamily !== this.settings.fontFamily)
      await loadTerminalFont(patch.fontFamily, patch.fontSize ?? this.settings.fontSize);
    this.settings = { ...this.settings, ...patch };
    this.applySettings();
    try {
      this.settings = await this.host.settings.set(patch);
    } catch (error) {
      console.warn(`[settings] not saved: ${String(error)}`);
    }
  }

  /** The settings screen; closing it gives the keyboard back to the active terminal. */
  async openSettings(): Promise<void> {
    if (document.querySelector('.settings')) return;
    const credentials = await this.host.credentials
      .status()
      .catch((error: unknown) => ({ encrypted: false, description: `kept in a store of unknown safety (${String(error)})` }));
    const screen = new SettingsScreen({
      appearance: {
        theme: this.settings.theme,
        fontSize: this.settings.fontSize,
        fontFamily: this.settings.fontFamily ?? 'jetbrains-mono',
        copyOnSelect: this.settings.copyOnSelect,
      },
      connection: { signalingUrl: this.config.signalingUrl, token: this.config.token, iceServers: this.config.iceServers },
      credentials,
      minFontSize: 8,
      maxFontSize: 32,
    });
    screen.onAppearance((patch) => void this.updateSettings(patch));
    screen.onSaveConnection((connection) => void this.saveConnection(connection));
    screen.onClosed(() => this.focusTerminal());
  }

  /** The console's own entries of the tab menu; other features add theirs with `tabs.menu.add`. */
  private tabMenuEntries(tab: PageTab): MenuEntry[] {
    return [
      { label: 'Split right', note: 'Alt+Shift+=', testid: 'tab-menu-split-right', action: () => void this.split('row', tab) },
      { label: 'Split down', note: 'Alt+Shift+-', testid: 'tab-menu-split-down', action: () => void this.split('column', tab) },
      {
        label: 'Broadcast input to this tab',
        note: 'Ctrl+Shift+B',
        checked: this.tabs.broadcast.has(tab.id),
        testid: 'tab-menu-broadcast',
        action: () => this.tabs.broadcast.toggle(tab),
      },
      { label: 'Host colour…', swatch: hostColour(tab.agentId), testid: 'tab-menu-colour', action: () => void this.chooseHostColour(tab) },
      { label: 'Rename…', note: 'Ctrl+Shift+E', testid: 'tab-menu-rename', action: () => this.tabs.strip.startRename(tab) },
      {
        label: 'Close',
        note: 'Ctrl+Shift+W',
        testid: 'tab-menu-close',
        action: () => void this.tabs.requestClose(tab.id).then(() => this.focusTerminal()),
      },
    ];
  }

  /** The colour of the tab's host, from the palette, or back to the one derived from its id. */
  private async chooseHostColour(tab: PageTab): Promise<void> {
    const current = hostColour(tab.agentId);
    const chosen = hostColourChosen(tab.agentId);
    const choose = (colour: string | undefined) => {
      const { [tab.agentId]: _old, ...rest } = this.settings.hostColours ?? {};
      void this.updateSettings({ hostColours: colour ? { ...rest, [tab.agentId]: colour } : rest });
    };
    const entries: MenuEntry[] = [
      {
        label: 'Automatic (from the host id)',
        swatch: derivedHostColour(tab.agentId),
        checked: !chosen,
        testid: 'host-colour-auto',
        action: () => choose(undefined),
      },
      'separator',
      ...HOST_PALETTE.map(({ name, colour }) => ({
        label: name,
        swatch: colour,
        checked: chosen && current === colour,
        testid: 'host-colour',
        data: { colour },
        action: () => choose(colour),
      })),
    ];
    const button = document.querySelector<HTMLElement>(`[data-testid="tab"][data-tab-id="${tab.id}"]`);
    await openPopupMenu(entries, button ?? { x: 100, y: 40 }, { testid: 'host-colour-menu', label: `Colour of ${tab.agentName}` });
    this.focusTerminal();
  }

  private async openWorkspacesMenu(button: HTMLElement): Promise<void> {
    const entries: MenuEntry[] = [
      {
        label: 'Save the open tabs as a workspace…',
        testid: 'workspace-save',
        disabled: this.tabs.list().length === 0,
        action: () => void this.askWorkspaceName(),
      },
    ];
    const saved = this.workspaces.list();
    if (saved.length > 0) entries.push('separator');
    for (const workspace of saved) {
      entries.push({
        label: workspace.name,
        note: `${workspace.tabs.length} tab${workspace.tabs.length === 1 ? '' : 's'}`,
        testid: 'workspace-item',
        data: { name: workspace.name },
        action: () => void this.openWorkspace(workspace),
      });
    }
    if (saved.length > 0) {
      entries.push('separator', {
        label: 'Delete a workspace…',
        testid: 'workspace-delete',
        action: () => void this.askWorkspaceToDelete(button),
      });
    }
    await openPopupMenu(entries, button, { testid: 'workspaces-menu', label: 'Workspaces' });
    if (!document.querySelector('.dialog-backdrop, .popup-menu')) this.focusTerminal();
  }

  private async askWorkspaceName(): Promise<void> {
    const name = (
      await promptDialog({ title: 'Save a workspace', message: 'Name', accept: 'Save', testid: 'workspace-name-dialog' })
    )?.slice(0, 80);
    const replaces = name ? this.workspaces.get(name) : undefined;
    const keep =
      replaces &&
      !(await confirmDialog({
        title: `Replace ${replaces.name}?`,
        message: `A workspace named ${replaces.name} (${replaces.tabs.length} tabs) exists. Replace it with the open tabs?`,
        accept: 'Replace',
      }));
    if (name && !keep) {
      await this.saveWorkspace(name).catch((error: unknown) => {
        const why = error instanceof Error ? error.message : String(error);
        console.warn(`[workspaces] ${name} not saved: ${why}`);
        this.tabs.active?.panel.notice(`[workspace ${name} not saved: ${why}]`, 'warning');
      });
    }
    this.focusTerminal();
  }

  /** Lists the workspaces to delete one, asking first. */
  private async askWorkspaceToDelete(button: HTMLElement): Promise<void> {
    let chosen: string | undefined;
    const entries: MenuEntry[] = this.workspaces
      .list()
      .map((w) => ({ label: w.name, testid: 'workspace-delete-item', data: { name: w.name }, action: () => void (chosen = w.name) }));
    await openPopupMenu(entries, button, { testid: 'workspaces-delete-menu', label: 'Delete a workspace' });
    if (
      chosen &&
      (await confirmDialog({
        title: `Delete ${chosen}?`,
        message: `The workspace ${chosen} is forgotten; open tabs stay open.`,
        accept: 'Delete',
      }))
    ) {
      const name = chosen;
      await this.workspaces.remove(name).catch((error: unknown) => {
        const why = error instanceof Error ? error.message : String(error);
        console.warn(`[workspaces] ${name} not deleted: ${why}`);
        this.tabs.active?.panel.notice(`[workspace ${name} not deleted: ${why}]`, 'warning');
      });
    }
    this.focusTerminal();
  }

  /** Gives the keyboard back to the active terminal, after any action that took it (a button, a dialog). */
  focusTerminal(): void {
    this.tabs.active?.panel.view.focus();
  }

  dispose(): void {
    this.store.dispose();
  }

  /**
   * Stores the connection settings and reloads the page on them: the signaling URL in settings, the
   * token and the ICE servers (TURN passwords) as credentials. Open tabs come back and resume.
   */
  private async saveConnection(connection: ConnectionSettings): Promise<void> {
    try {
      await this.host.settings.set({ signalingUrl: connection.signalingUrl });
      if (connection.token) await this.host.credentials.set(TOKEN_CREDENTIAL, connection.token);
      else await this.host.credentials.delete(TOKEN_CREDENTIAL);
      if (connection.iceServers.length > 0) await this.host.credentials.set(ICE_CREDENTIAL, JSON.stringify(connection.iceServers));
      else await this.host.credentials.delete(ICE_CREDENTIAL);
    } catch (error) {
      await confirmDialog({ title: 'The settings were not saved', message: String(error), accept: 'OK' });
      return;
    }
    const params = new URLSearchParams(location.search);
    for (const name of ['signal', 'token', 'ice', 'lan']) params.delete(name);
    if (!connection.signalingUrl) params.set('lan', '1');
    location.search = params.toString();
  }

  private viewOptions(): TerminalViewOptions {
    return {
      theme: this.settings.theme,
      fontSize: this.settings.fontSize,
      fontFamily: this.settings.fontFamily,
      confirmPaste: (text) => {
        const lines = text.replace(/[\r\n]+$/, '').split(/\r\n|\r|\n/).length;
        const tab = this.tabs.active;
        return confirmDialog({
          title: `Paste ${lines} lines?`,
          message: `Each line runs as a command in ${tab ? `${tab.target} on ${tab.agentName}` : 'the terminal'}.`,
          detail: text,
          accept: 'Paste',
        });
      },
      onSelection: (text) => {
        if (!this.settings.copyOnSelect) return;
        this.host.clipboard.writeText(text).catch((error: unknown) => console.warn(`[clipboard] copy failed: ${String(error)}`));
      },
      openLink: (url) => {
        this.host.openExternal(url).catch((error: unknown) => console.warn(`[links] ${String(error)}`));
      },
    };
  }

  private applySettings(): void {
    document.documentElement.dataset.theme = this.settings.theme;
    setChosenHostColours(this.settings.hostColours);
    this.sash.show(this.settings.sidebarWidth);
    this.tabs.refresh();
    for (const tab of this.tabs.list()) {
      tab.panel.view.setTheme(this.settings.theme);
      tab.panel.view.setFontFamily(this.settings.fontFamily);
      tab.panel.view.setFontSize(this.settings.fontSize);
    }
    this.toolbar.showSettings(this.settings);
  }

  private zoom(step: -1 | 0 | 1): void {
    const fontSize = step === 0 ? 14 : Math.max(8, Math.min(32, this.settings.fontSize + step));
    void this.updateSettings({ fontSize });
  }

  private onKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement | null;
    const command = commandFor(event);
    if (!command) return;
    // A field keeps its keys; the find bar's lets the tab keys through (it is part of the tab, and
    // Ctrl+Tab or Alt+3 there did nothing).
    const field = target?.closest?.('input, textarea:not(.xterm-helper-textarea), .dialog');
    const tabKey = command.kind === 'next-tab' || command.kind === 'previous-tab' || command.kind === 'select-tab';
    if (field && !(tabKey && field.closest('.search-bar'))) return;
    // Alt+arrows move between panes only in a split; elsewhere they are the shell's.
    if (command.kind === 'focus-pane' && !(this.tabs.active && this.tabs.panes.groupOf(this.tabs.active.id))) return;
    event.preventDefault();
    event.stopPropagation();
    this.run(command);
  }

  private run(command: Command): void {
    const active = this.tabs.active;
    switch (command.kind) {
      case 'next-tab':
        return this.tabs.cycle(1);
      case 'previous-tab':
        return this.tabs.cycle(-1);
      case 'select-tab':
        return this.tabs.selectIndex(command.index);
      case 'close-tab':
        if (active) void this.tabs.requestClose(active.id);
        return;
      case 'rename-tab':
        if (active) this.tabs.strip.startRename(active);
        return;
      case 'find':
        active?.panel.openSearch();
        return;
      case 'copy': {
        const text = active?.panel.view.selection();
        if (text) void this.host.clipboard.writeText(text).catch((error: unknown) => console.warn(`[clipboard] ${String(error)}`));
        return;
      }
      case 'paste':
        if (active) {
          this.host.clipboard.readText().then(
            (text) => active.panel.view.paste(text),
            (error: unknown) => console.warn(`[clipboard] paste failed: ${String(error)}`),
          );
        }
        return;
      case 'zoom-in':
        return this.zoom(1);
      case 'zoom-out':
        return this.zoom(-1);
      case 'zoom-reset':
        return this.zoom(0);
      case 'settings':
        return void this.openSettings();
      case 'split':
        return void this.split(command.direction);
      case 'focus-pane':
        return this.tabs.focusPane(command.direction);
      case 'broadcast':
        if (active) this.tabs.broadcast.toggle(active);
        return;
      case 'tab-menu': {
        const item = active && document.querySelector<HTMLElement>(`[data-testid="tab"][data-tab-id="${active.id}"]`);
        if (active && item) void this.tabs.menu.open(active, item).then(() => this.tabs.keepFocus());
        return;
      }
    }
  }

  /** The longest time the agent keeps a shell of one of its tabs after a loss: how long to try to reconnect. */
  private resumeGraceFor(agentId: string): number {
    const tabs = this.tabs
      .list()
      .filter((t) => t.agentId === agentId)
      .map((t) => t.resumeGraceMs);
    return Math.max(0, this.abandoned.graceFor(agentId), ...tabs);
  }

  private refresh(): void {
    this.abandoned.endReachable((agentId) => this.agents.connection(agentId));
    for (const tab of this.tabs.list()) {
      const record = this.agents.get(tab.agentId);
      const connection = this.agents.connection(tab.agentId);
      // A reopened tab whose agent has just come online (or is connected by no one yet).
      if (record?.online && ((tab.state === 'opening' && !tab.followed) || (tab.awaitingRestore && !connection))) {
        this.startRestored(tab);
        continue;
      }
      if (tab.state === 'reconnecting') {
        const reconnect = this.agents.reconnectState(tab.agentId);
        const live = connection && connection.stage.kind !== 'failed' && connection.stage.kind !== 'closed';
        tab.setReconnect(reconnect);
        if (live) tab.resumeOn(connection);
        else if (!reconnect && !tab.awaitingRestore) tab.giveUp(`${tab.agentName} could not be reached again before it dropped the shell`);
        tab.tick();
      }
      // A tab whose connection failed while being set up follows the directory's retry on its own.
      if (tab.setupFailed && connection && connection !== tab.followed && connection.stage.kind !== 'failed') tab.follow(connection);
      const target = record?.targets.find((t) => t.name === tab.target || t.id === tab.target || tab.target.startsWith(t.id));
      if (record?.targetsKnown && connection?.stage.kind === 'ready') tab.setTargetState(target?.state);
      tab.setPath(record?.path);
    }
    this.renderDevices();
  }

  private renderDevices(): void {
    const open = (agentId: string) => {
      const tabs = this.tabs.list().filter((t) => t.agentId === agentId);
      // A container's "1 tab" counts tabs whose shell is (or is being) there: not one that exited or is gone.
      return { running: tabs.filter((t) => t.running).length, targets: tabs.filter((t) => t.live).map((t) => t.target) };
    };
    this.devices.render(() => this.agents.entries(open));
  }
}
