/** What a tab draws, recorded, with the connection it follows, for unit tests of the tab in Node. */
import { Emitter } from '../../../../renderer/src/base/emitter.js';
import type { ConnectionStage } from '../../../../renderer/src/connection/connection-stage.js';
import type { TerminalSession } from '../../../../renderer/src/session/terminal-session.js';
import type { FollowableConnection } from '../../../../renderer/src/tabs/followed-connection.js';
import { bannerFor } from '../../../../renderer/src/tabs/tab-banner.js';
import type { TabFacts, TabSurface } from '../../../../renderer/src/tabs/tab-panel.js';

export class FakeTabPanel implements TabSurface {
  readonly tabId = 'tab-1';
  /** the facts the tab drew last */
  facts: TabFacts | undefined;
  /** the console's own lines written into the terminal, oldest first */
  readonly notices: string[] = [];
  bound: TerminalSession | undefined;
  disposed = false;
  private readonly actionEmitter = new Emitter<void>();
  private readonly activityEmitter = new Emitter<void>();
  readonly onAction = this.actionEmitter.event;
  readonly onActivity = this.activityEmitter.event;
  private readonly refusedEmitter = new Emitter<void>();
  readonly onInputRefused = this.refusedEmitter.event;

  /** The user typed while no session took input. */
  type(): void {
    this.refusedEmitter.fire();
  }

  show(facts: TabFacts): void {
    this.facts = facts;
  }

  notice(line: string): void {
    this.notices.push(line);
  }

  bind(session: TerminalSession): void {
    this.bound = session;
  }

  dispose(): void {
    this.disposed = true;
  }

  /** The banner the panel shows for the last facts. */
  banner() {
    if (!this.facts) throw new Error('the tab drew nothing yet');
    return bannerFor(this.facts);
  }

  /** The user pressed the banner's button (Reconnect / Open a new session). */
  pressAction(): void {
    this.actionEmitter.fire();
  }
}

/** An agent connection that goes through the stages a test gives it; it opens no channel itself. */
export class FakeConnection implements FollowableConnection {
  stage: ConnectionStage = { kind: 'idle' };
  unansweredMs: number | undefined;
  private readonly stageEmitter = new Emitter<ConnectionStage>();
  private readonly unansweredEmitter = new Emitter<number | undefined>();
  readonly onStage = this.stageEmitter.event;
  readonly onUnanswered = this.unansweredEmitter.event;

  /** The keepalive reports a ping unanswered for `ms` (undefined: answered), as AgentConnection passes it on. */
  unanswered(ms: number | undefined): void {
    this.unansweredMs = ms;
    this.unansweredEmitter.fire(ms);
  }

  set(stage: ConnectionStage): void {
    this.stage = stage;
    this.stageEmitter.fire(stage);
  }

  openTerminalChannel(): RTCDataChannel {
    throw new Error('a fake session asks for no channel');
  }
}
