import type { ErrorCode } from '@tether/protocol';
import type { AgentConnection } from '../connection/agent-connection';
import type { Disposable } from '../base/emitter';
import type { TabStage } from './tab-status-view';

/** What a followed connection's stages mean for the tab that follows it. */
export interface FollowedConnectionHandlers {
  /** still setting up; `stage` as the tab shows it */
  connecting(stage: TabStage): void;
  ready(connection: AgentConnection): void;
  /** failed or closed; the reason in words, and its code when the agent gave one (AGENT_STOPPED: it stopped) */
  ended(reason: string, code?: ErrorCode | undefined): void;
  /** after each stage, whatever it was */
  changed(): void;
}

/**
 * The agent connection a tab follows, one at a time: its stages read as setting up, ready or
 * ended. Following another connection lets go of the one before.
 */
export class FollowedConnection implements Disposable {
  /** the connection followed now; a failed setup moves on to the agent's next one (app.ts) */
  connection: AgentConnection | undefined;
  private listener: Disposable | undefined;

  constructor(private readonly handlers: FollowedConnectionHandlers) {}

  follow(connection: AgentConnection): void {
    this.listener?.dispose();
    this.connection = connection;
    const onStage = () => {
      const stage = connection.stage;
      switch (stage.kind) {
        case 'idle':
        case 'signaling':
        case 'ice':
        case 'secure-channel':
          this.handlers.connecting(stage.kind === 'idle' ? 'signaling' : stage.kind);
          break;
        case 'ready':
          this.handlers.ready(connection);
          break;
        case 'failed':
        case 'closed':
          if (stage.kind === 'failed') this.handlers.ended(stage.reason, stage.code);
          else this.handlers.ended('the connection was closed');
          break;
      }
      this.handlers.changed();
    };
    this.listener = connection.onStage(onStage);
    onStage();
  }

  dispose(): void {
    this.listener?.dispose();
  }
}
