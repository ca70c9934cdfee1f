import type { AgentInfo, Target } from '@tether/protocol';
import type { AgentConnection, ConnectionStage } from './agent-connection';

const STAGE_TEXT: Record<ConnectionStage['kind'], string> = {
  idle: 'not connected',
  signaling: 'signaling…',
  ice: 'finding a network path (ICE)…',
  'secure-channel': 'securing the channel (DTLS/SCTP)…',
  ready: 'connected',
  failed: 'failed',
  closed: 'closed',
};

export interface AgentListActions {
  connect(agent: AgentInfo): void;
  disconnect(agentId: string): void;
  openTarget(agentId: string, target: Target): void;
}

/** The online agents (presence), each with its connection stage and, once ready, its targets. */
export class AgentListView {
  readonly element: HTMLElement;

  constructor(private readonly actions: AgentListActions) {
    this.element = document.createElement('nav');
    this.element.className = 'agent-list';
    this.element.setAttribute('aria-label', 'Agents');
  }

  render(agents: readonly AgentInfo[], connections: ReadonlyMap<string, AgentConnection>): void {
    const heading = document.createElement('h2');
    heading.textContent = 'Agents';
    const list = document.createElement('ul');
    if (agents.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = 'No agent is online.';
      list.append(empty);
    }
    for (const agent of agents) list.append(this.renderAgent(agent, connections.get(agent.agentId)));
    this.element.replaceChildren(heading, list);
  }

  private renderAgent(agent: AgentInfo, connection: AgentConnection | undefined): HTMLElement {
    const item = document.createElement('li');
    item.className = 'agent';
    item.dataset.testid = 'agent';
    item.dataset.agentId = agent.agentId;
    const name = document.createElement('span');
    name.className = 'agent-name';
    name.textContent = agent.name;
    name.title = `${agent.agentId} · v${agent.version}`;
    const stage = connection?.stage ?? { kind: 'idle' as const };
    const state = document.createElement('span');
    state.className = `connection-state stage-${stage.kind}`;
    state.dataset.testid = 'connection-state';
    state.dataset.stage = stage.kind;
    state.textContent = stage.kind === 'failed' ? `failed: ${stage.reason}` : STAGE_TEXT[stage.kind];
    const button = document.createElement('button');
    button.type = 'button';
    const connected = connection && stage.kind !== 'failed' && stage.kind !== 'closed';
    button.dataset.testid = connected ? 'agent-disconnect' : 'agent-connect';
    button.textContent = connected ? 'Disconnect' : 'Connect';
    button.addEventListener('click', () => (connected ? this.actions.disconnect(agent.agentId) : this.actions.connect(agent)));
    item.append(name, state, button);
    if (connection && stage.kind === 'ready') item.append(this.renderTargets(agent.agentId, connection.targets));
    return item;
  }

  private renderTargets(agentId: string, targets: readonly Target[]): HTMLElement {
    const list = document.createElement('ul');
    list.className = 'targets';
    if (targets.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = 'This agent exposes no container.';
      list.append(empty);
    }
    for (const target of targets) {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `target state-${target.state}`;
      button.dataset.testid = 'target';
      button.dataset.targetName = target.name;
      button.dataset.state = target.state;
      button.textContent = `${target.name} (${target.state})`;
      button.title = `${target.image} · ${target.id.slice(0, 12)}`;
      button.addEventListener('click', () => this.actions.openTarget(agentId, target));
      item.append(button);
      list.append(item);
    }
    return list;
  }
}
