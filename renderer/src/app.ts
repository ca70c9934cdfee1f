import type { AgentInfo } from '@tether/protocol';
import { AgentConnection } from './agent-connection';
import { AgentListView } from './agent-list-view';
import type { ConsoleConfig } from './config';
import { DisposableStore, type Disposable } from './emitter';
import { SignalingClient, type SignalingState } from './signaling-client';
import { TabSet, type Tab } from './tabs';

/** The console page: signaling status, the agent list, and the tabs. */
export class ConsoleApp implements Disposable {
  readonly tabs: TabSet;
  private readonly store = new DisposableStore();
  private readonly signaling: SignalingClient;
  private readonly connections = new Map<string, AgentConnection>();
  private readonly agentList: AgentListView;
  private readonly status: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly config: ConsoleConfig,
  ) {
    this.status = document.createElement('p');
    this.status.className = 'signaling-state';
    this.status.dataset.testid = 'signaling-state';
    this.agentList = new AgentListView({
      connect: (agent) => void this.connect(agent),
      disconnect: (agentId) => this.disconnect(agentId),
      openTarget: (agentId, target) => void this.openTab(agentId, target.name),
    });
    const sidebar = document.createElement('aside');
    sidebar.className = 'sidebar';
    sidebar.append(this.status, this.agentList.element);
    const strip = document.createElement('div');
    strip.className = 'tab-strip';
    strip.setAttribute('role', 'tablist');
    const panels = document.createElement('div');
    panels.className = 'tab-panels';
    const main = document.createElement('main');
    main.className = 'workspace';
    main.append(strip, panels);
    root.replaceChildren(sidebar, main);
    this.tabs = this.store.add(new TabSet(strip, panels));

    this.signaling = this.store.add(new SignalingClient(config.signalingUrl, config.token));
    this.store.add(this.signaling.onState((state) => this.renderStatus(state)));
    this.store.add(this.signaling.onPresence(() => this.renderAgents()));
    this.renderStatus(this.signaling.state);
    this.renderAgents();
    this.signaling.connect();
  }

  /** Connects to an agent, or returns the live connection; resolves once it is ready. */
  async connect(agent: AgentInfo): Promise<AgentConnection> {
    const existing = this.connections.get(agent.agentId);
    if (existing && existing.stage.kind !== 'failed' && existing.stage.kind !== 'closed') return this.whenReady(existing);
    existing?.dispose();
    const connection = new AgentConnection(agent, this.signaling, { iceServers: this.config.iceServers });
    this.connections.set(agent.agentId, connection);
    connection.onStage(() => this.renderAgents());
    connection.onTargets(() => this.renderAgents());
    connection.onError((error) => console.warn(`[agent ${agent.agentId}] ${error.code}: ${error.message}`));
    const ready = this.whenReady(connection);
    void connection.connect();
    return ready;
  }

  /** A fresh connection to the agent, outside the agent list, that the caller connects and disposes. */
  createConnection(agentId: string): AgentConnection {
    const agent = this.signaling.agents.find((a) => a.agentId === agentId);
    if (!agent) throw new Error(`agent ${agentId} is not online`);
    return new AgentConnection(agent, this.signaling, { iceServers: this.config.iceServers });
  }

  disconnect(agentId: string): void {
    const connection = this.connections.get(agentId);
    if (!connection) return;
    this.connections.delete(agentId);
    connection.dispose();
    this.renderAgents();
  }

  /** Opens a tab on `target` (a container name or id) through the agent, connecting it if needed. */
  async openTab(agentId: string, target: string): Promise<Tab> {
    const agent = this.signaling.agents.find((a) => a.agentId === agentId);
    if (!agent) throw new Error(`agent ${agentId} is not online`);
    const connection = await this.connect(agent);
    return this.tabs.open(connection, target);
  }

  dispose(): void {
    for (const agentId of [...this.connections.keys()]) this.disconnect(agentId);
    this.store.dispose();
  }

  private whenReady(connection: AgentConnection): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const stage = connection.stage;
        if (stage.kind === 'ready') resolve(connection);
        else if (stage.kind === 'failed') reject(new Error(`${connection.agent.name}: ${stage.reason}`));
        else if (stage.kind === 'closed') reject(new Error(`${connection.agent.name}: connection closed`));
        else return false;
        return true;
      };
      if (check()) return;
      const subscription = connection.onStage(() => {
        if (check()) subscription.dispose();
      });
    });
  }

  private renderAgents(): void {
    this.agentList.render(this.signaling.agents, this.connections);
  }

  private renderStatus(state: SignalingState): void {
    this.status.dataset.state = state.kind;
    this.status.classList.toggle('error', state.kind === 'refused' || state.kind === 'disconnected');
    switch (state.kind) {
      case 'connecting':
        this.status.textContent = `Connecting to ${this.config.signalingUrl}…`;
        break;
      case 'connected':
        this.status.textContent = `Signaling: connected to ${this.config.signalingUrl}`;
        break;
      case 'disconnected':
        this.status.textContent = `Signaling: disconnected (${state.reason}); retrying…`;
        break;
      case 'refused':
        this.status.textContent = `Signaling refused the console: ${state.error.code} — ${state.error.message}`;
        break;
    }
  }
}
