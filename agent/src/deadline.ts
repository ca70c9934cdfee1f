/** Every wait on the network or the Docker engine has a deadline; this is the one place that sets it. */
import { err, ok, protocolError, type ErrorCode, type Result } from '@tether/protocol';

/** Default deadline for one Docker engine request (inspect, exec create, list). */
export const DOCKER_REQUEST_TIMEOUT_MS = 10_000;

export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** Rejects with DeadlineError when `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Turns a rejected or late promise into an error value with `code`; a request Docker refused because
 * the container is paused (an exec created or started in it) is TARGET_NOT_RUNNING, whatever asked.
 */
export async function attempt<T>(promise: Promise<T>, code: ErrorCode, what: string, ms = DOCKER_REQUEST_TIMEOUT_MS): Promise<Result<T>> {
  try {
    return ok(await withDeadline(promise, ms, what));
  } catch (cause) {
    if (containerPaused(cause))
      return err(
        protocolError(
          'TARGET_NOT_RUNNING',
          `${what} failed: the container is paused (its processes are frozen, docker pause); unpause it first.`,
        ),
      );
    return err(protocolError(code, `${what} failed: ${describeError(cause)}`));
  }
}

export function describeError(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

/** HTTP status of a dockerode error, when it carries one. */
export function dockerStatus(cause: unknown): number | undefined {
  if (typeof cause === 'object' && cause !== null && 'statusCode' in cause) {
    const status = (cause as { statusCode: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/**
 * Whether a failed Docker request got no answer at all (refused, reset, timed out): the engine
 * stopped or is restarting. An HTTP error (an exec or container it does not know) is an answer.
 */
export function engineGone(cause: unknown): boolean {
  return dockerStatus(cause) === undefined;
}

/** Whether Docker refused a request because the container is paused (`docker pause`): 409, "is paused". */
export function containerPaused(cause: unknown): boolean {
  return dockerStatus(cause) === 409 && /\bis paused\b/.test(describeError(cause));
}
