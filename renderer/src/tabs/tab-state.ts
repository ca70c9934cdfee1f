/**
 * What a tab's state becomes on each thing its session or connection reports, in one place so that
 * the transitions can be read (and tested) apart from the tab that makes them.
 */
import { isOpenFailure } from '../session/terminal-session';
import type { SessionError } from '../session/terminal-session';

/**
 * `reconnecting`: the connection was lost and the shell waits on the agent; `gone`: a resume was
 * refused (agent restarted, grace period over, another console's session).
 */
export type TabState = 'opening' | 'open' | 'reconnecting' | 'gone' | 'exited' | 'failed' | 'closed';

/** The session reported `error`. */
export function stateOnError(state: TabState, error: SessionError): TabState {
  if (
    state === 'reconnecting' &&
    (error.code === 'SESSION_NOT_FOUND' || error.code === 'SESSION_FORBIDDEN' || isOpenFailure(error.code) || error.fatal)
  )
    return 'gone';
  const live = state === 'opening' || state === 'open';
  if (live && (error.fatal || (state === 'opening' && isOpenFailure(error.code)))) return 'failed';
  return state;
}

/** Whether the tab's shell is starting, running or waiting on the agent: what a close or a loss ends. */
export function isLive(state: TabState): boolean {
  return state === 'opening' || state === 'open' || state === 'reconnecting';
}
