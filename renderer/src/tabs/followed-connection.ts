import type { ErrorCode } from '@tether/protocol';
import { Emitter, type Disposable, type Event } from '../base/emitter';
import type { ConnectionStage } from '../connection/connection-stage';
import type { SessionCarrier } from '../session/terminal-session';
import type { TabStage } from './tab-status-view';

/** What a tab needs of an agent connection: its stages, and channels for its sessions. */
export interface FollowableConnection extends SessionCarrier {
  readonly stage: ConnectionStage;
  readonly onStage: Event<ConnectionStage>;
  /** a new `file:<id>` channel for one of the tab's transfers (transfer/); absent where none can be opened */
  openFileChannel?(id: string): RTCDataChannel;
  /** whether the agent's `hello` offered file transfers */
  readonly transfersSupported?: boolean;
  /** how long a ping to the agent has gone unanswered, once past the keepalive's notice (connection/keepalive.ts) */
  readonly unansweredMs?: number | undefined;
  readonly onUnanswered?: Event<number | undefined>;
}

/**
 * The agent connection a tab follows, one at a time: its stages read as setting up, ready or
 * ended. Following another connection lets go of the one before.
 */
export class FollowedConnection implements Disposable {
  /** the connection followed now; a failed setup moves on to the agent's next one (app.ts) */
  connection: FollowableConnection | undefined;
  private listener: Disposable | undefined;
  private unansweredListener: Disposable | undefined;
  private readonly connectingEmitter = new Emitter<TabStage>();
  private readonly readyEmitter = new Emitter<FollowableConnection>();
  private readonly endedEmitter = new Emitter<{ reason: string; code: ErrorCode | undefined }>();
  private readonly stageEmitter = new Emitter<void>();
  private readonly unansweredEmitter = new Emitter<void>();
  /** still setting up; the stage as the tab shows it */
  readonly onConnecting = this.connectingEmitter.event;
  readonly onReady = this.readyEmitter.event;
  /** failed or closed; the reason in words, and its code when the agent gave one (AGENT_STOPPED: it stopped) */
  readonly onEnded = this.endedEmitter.event;
  /** after each stage, whatever it was (after the events above) */
  readonly onStage = this.stageEmitter.event;
  /** the time a ping to the followed agent has gone unanswered changed (`unansweredMs`) */
  readonly onUnanswered = this.unansweredEmitter.event;

  /** How long a ping to the followed agent has gone unanswered, while it is ready and past the notice. */
  get unansweredMs(): number | undefined {
    const connection = this.connection;
    return connection?.stage.kind === 'ready' ? connection.unansweredMs : undefined;
  }

  follow(connection: FollowableConnection): void {
    this.listener?.dispose();
    this.unansweredListener?.dispose();
    this.connection = connection;
    this.unansweredListener = connection.onUnanswered?.(() => this.unansweredEmitter.fire());
    const onStage = () => {
      const stage = connection.stage;
      switch (stage.kind) {
        case 'idle':
        case 'signaling':
        case 'ice':
        case 'secure-channel':
          this.connectingEmitter.fire(stage.kind === 'idle' ? 'signaling' : stage.kind);
          break;
        case 'ready':
          this.readyEmitter.fire(connection);
          break;
        case 'failed':
          this.endedEmitter.fire({ reason: stage.reason, code: stage.code });
          break;
        case 'closed':
          this.endedEmitter.fire({ reason: 'the connection was closed', code: undefined });
          break;
      }
      this.stageEmitter.fire();
    };
    this.listener = connection.onStage(onStage);
    onStage();
  }

  dispose(): void {
    this.listener?.dispose();
    this.unansweredListener?.dispose();
    for (const emitter of [this.connectingEmitter, this.readyEmitter, this.endedEmitter, this.stageEmitter, this.unansweredEmitter])
      emitter.dispose();
  }
}
