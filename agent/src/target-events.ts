/**
 * Pushes the list of exposed containers to the consoles when it changes: follows the Docker
 * engine's container events (create, start, die, stop, pause, unpause, destroy, rename), waits
 * TARGETS_DEBOUNCE_MS for a burst to settle (`docker run` is create then start), lists again, and
 * hands the list to every subscriber only when it differs from the last one (events of containers
 * the rules do not expose change nothing). When the event stream breaks it is opened again.
 */
import type Docker from 'dockerode';
import type { Target } from '@tether/protocol';
import { describeError } from './deadline.js';
import type { DockerTargets } from './docker-targets.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** How long a burst of container events may last before the list is read again. */
export const TARGETS_DEBOUNCE_MS = 250;
/** Wait before opening the event stream again after it broke. */
export const EVENTS_RETRY_MS = 2000;
export const TARGET_EVENTS = ['create', 'start', 'die', 'stop', 'pause', 'unpause', 'destroy', 'rename'];

type Listener = (targets: Target[]) => void;

export class TargetWatcher {
  private readonly listeners = new Set<Listener>();
  private stream: NodeJS.ReadableStream | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private last: string | undefined;
  private closed = false;

  constructor(
    private readonly docker: Docker,
    private readonly targets: DockerTargets,
  ) {}

  /** Calls `listener` with each changed list; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens the event stream; a failure is logged and retried, never thrown. */
  start(): void {
    if (this.closed) return;
    this.docker.getEvents({ filters: { type: ['container'], event: TARGET_EVENTS } as Docker.GetEventsOptions['filters'] }).then(
      (stream) => {
        if (this.closed) {
          destroy(stream);
          return;
        }
        this.stream = stream;
        // Which event it was does not matter: the list is read again either way.
        stream.on('data', () => this.schedule());
        stream.once('end', () => this.broken('the event stream ended'));
        stream.once('error', (cause: Error) => this.broken(describeError(cause)));
        log.debug('following container events');
        this.schedule(); // events may have been missed while the stream was down
      },
      (cause: unknown) => this.broken(describeError(cause)),
    );
  }

  private broken(reason: string): void {
    if (this.closed) return;
    if (this.stream) destroy(this.stream);
    this.stream = undefined;
    log.warn('container events unavailable; retrying', { reason, retryMs: EVENTS_RETRY_MS });
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.start(), EVENTS_RETRY_MS);
  }

  private schedule(): void {
    if (this.closed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, TARGETS_DEBOUNCE_MS);
  }

  private async refresh(): Promise<void> {
    if (this.listeners.size === 0) {
      this.last = undefined;
      return;
    }
    const listed = await this.targets.list();
    if (this.closed) return;
    if (!listed.ok) {
      log.warn('targets not listed after a container event', { code: listed.error.code, reason: listed.error.message });
      return;
    }
    const text = JSON.stringify(listed.value);
    if (text === this.last) return;
    this.last = text;
    log.debug('targets changed', { count: listed.value.length, consoles: this.listeners.size });
    for (const listener of [...this.listeners]) listener(listed.value);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    clearTimeout(this.retry);
    this.listeners.clear();
    if (this.stream) destroy(this.stream);
    this.stream = undefined;
  }
}

function destroy(stream: NodeJS.ReadableStream): void {
  (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
}
