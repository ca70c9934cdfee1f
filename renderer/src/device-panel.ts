/**
 * The side panel: every known agent (online ones from presence, offline ones remembered), its
 * connection stage, and under it the containers it exposes with their state, kept live.
 */
import type { Target } from '@tether/protocol';
import type { ConnectionStage } from './connection-stage';
import type { NetworkPath } from './network-path';

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
  openTabs: number;
  /** this console paired with the agent: its identity is pinned */
  paired: boolean;
  /** the signaling path its connection takes: the agent's own LAN endpoint or the cloud server */
  route: 'lan' | 'cloud' | undefined;
  /** set while a lost connection is being re-established for the shells of its tabs */
  reconnectAttempt: number | undefined;
}

export interface DevicePanelActions {
  connect(agentId: string): void;
  disconnect(agentId: string): void;
  openTarget(agentId: string, target: Target): void;
  /** opens the pairing dialog */
  pair(): void;
}

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
  private lastSignature = '';

  constructor(private readonly actions: DevicePanelActions) {
    this.element = document.createElement('nav');
    this.element.className = 'device-panel agent-list';
    this.element.setAttribute('aria-label', 'Devices and containers');
  }

  render(entries: readonly DeviceEntry[]): void {
    const signature = JSON.stringify(entries);
    if (signature === this.lastSignature) return;
    this.lastSignature = signature;
    const heading = document.createElement('h2');
    heading.textContent = 'Devices';
    const pair = document.createElement('button');
    pair.type = 'button';
    pair.className = 'pair-agent';
    pair.dataset.testid = 'pair-agent';
    pair.textContent = 'Pair an agent';
    pair.title = 'pair with an agent from the token or QR code of `tether-agent pair` (works offline, over the LAN)';
    pair.addEventListener('click', () => this.actions.pair());
    const list = document.createElement('ul');
    if (entries.length === 0) list.append(emptyItem('No agent is known yet; agents appear here when they come online, or pair one.'));
    for (const entry of entries) list.append(this.renderAgent(entry));
    this.element.replaceChildren(heading, pair, list);
  }

  private renderAgent(entry: DeviceEntry): HTMLElement {
    const item = document.createElement('li');
    item.className = `agent ${entry.online ? 'online' : 'offline'}`;
    item.dataset.testid = 'agent';
    item.dataset.agentId = entry.agentId;
    item.dataset.online = String(entry.online);
    const header = document.createElement('div');
    header.className = 'agent-header';
    const name = document.createElement('span');
    name.className = 'agent-name';
    name.textContent = entry.name;
    name.title = `${entry.agentId}${entry.version ? ` · v${entry.version}` : ''}`;
    const stage = entry.stage;
    const state = document.createElement('span');
    state.className = `connection-state stage-${stage.kind}`;
    state.dataset.testid = 'connection-state';
    state.dataset.stage = stage.kind;
    state.dataset.reconnecting = String(entry.reconnectAttempt !== undefined);
    if (entry.reconnectAttempt !== undefined && stage.kind !== 'ready') {
      state.textContent = `connection lost — reconnecting (attempt ${Math.max(1, entry.reconnectAttempt)})…${entry.online ? '' : ' · offline'}`;
    } else if (!entry.online) state.textContent = 'offline';
    else if (stage.kind === 'failed') {
      state.textContent = `failed: ${stage.code ? `${stage.code} — ` : ''}${stage.reason}`;
      state.dataset.code = stage.code ?? '';
    }
    else if (stage.kind === 'ready' && entry.path) {
      state.textContent = `connected · ${entry.path.kind}${entry.path.rttMs === undefined ? '' : ` · ${entry.path.rttMs.toFixed(1)} ms`}`;
    } else state.textContent = STAGE_TEXT[stage.kind];
    header.append(name);
    item.dataset.paired = String(entry.paired);
    item.dataset.route = entry.route ?? '';
    if (entry.paired || entry.route) {
      const badge = document.createElement('span');
      badge.className = 'agent-trust';
      badge.dataset.testid = 'agent-route';
      badge.textContent = [entry.paired ? 'paired' : '', entry.route === 'lan' ? 'LAN' : entry.route === 'cloud' ? 'cloud' : ''].filter(Boolean).join(' · ');
      badge.title = entry.paired ? 'paired with this console: its certificate fingerprint is pinned' : 'not paired: trusted through the signaling server';
      header.append(badge);
    }
    const live = stage.kind !== 'idle' && stage.kind !== 'failed' && stage.kind !== 'closed';
    if (entry.online) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'agent-action';
      button.dataset.testid = live ? 'agent-disconnect' : 'agent-connect';
      button.textContent = live ? 'Disconnect' : 'Connect';
      button.title = live && entry.openTabs > 0 ? `ends the ${entry.openTabs} open tab(s) on this agent` : '';
      button.addEventListener('click', () => (live ? this.actions.disconnect(entry.agentId) : this.actions.connect(entry.agentId)));
      header.append(button);
    }
    item.append(header, state, this.renderTargets(entry));
    return item;
  }

  private renderTargets(entry: DeviceEntry): HTMLElement {
    const list = document.createElement('ul');
    list.className = 'targets';
    const reachable = entry.online && entry.stage.kind === 'ready';
    if (entry.targets.length === 0) {
      if (reachable && entry.targetsKnown) list.append(emptyItem('This agent exposes no container.'));
      else if (!entry.online) list.append(emptyItem('Offline: its containers cannot be reached.'));
      return list;
    }
    for (const target of entry.targets) {
      const state = reachable ? target.state : 'unreachable';
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `target state-${state}`;
      button.dataset.testid = 'target';
      button.dataset.targetName = target.name;
      button.dataset.state = state;
      button.disabled = !reachable;
      const name = document.createElement('span');
      name.className = 'target-name';
      name.textContent = target.name;
      const badge = document.createElement('span');
      badge.className = 'target-state';
      badge.dataset.testid = 'target-state';
      badge.textContent = state;
      button.append(name, badge);
      button.title = `${target.image} · ${target.id.slice(0, 12)} — open a terminal`;
      button.addEventListener('click', () => this.actions.openTarget(entry.agentId, target));
      item.append(button);
      list.append(item);
    }
    return list;
  }
}

function emptyItem(text: string): HTMLElement {
  const item = document.createElement('li');
  item.className = 'empty';
  item.textContent = text;
  return item;
}
