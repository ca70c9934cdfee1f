import { Emitter, type Disposable } from '../base/emitter';
import type { ResumeInfo } from './session-resumes';
import type { SessionError, SessionOpened } from './terminal-session';

/**
 * The events a WebRtcTerminalSession fires, kept together so that its end releases every
 * listener at once (the session hands out each one's `event` as its `onX`).
 */
export class SessionEvents implements Disposable {
  readonly output = new Emitter<Uint8Array>();
  readonly opened = new Emitter<SessionOpened>();
  readonly exit = new Emitter<number | null>();
  readonly error = new Emitter<SessionError>();
  readonly closed = new Emitter<void>();
  readonly detached = new Emitter<string>();
  readonly resumed = new Emitter<ResumeInfo>();
  readonly inputDropped = new Emitter<number>();

  dispose(): void {
    for (const emitter of [this.output, this.opened, this.exit, this.error, this.closed, this.detached, this.resumed, this.inputDropped]) {
      emitter.dispose();
    }
  }
}
