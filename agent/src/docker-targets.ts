/**
 * Which containers this agent exposes (a label rule) and how a console's `target` resolves to one.
 */
import type Docker from 'dockerode';
import { err, ok, protocolError, type Result, type Target, type TargetState } from '@tether/protocol';
import { attempt, dockerStatus, describeError, withDeadline, DOCKER_REQUEST_TIMEOUT_MS } from './deadline.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** A container that passed the expose rule and is running: what an exec needs. */
export interface ResolvedTarget {
  id: string;
  name: string;
  container: Docker.Container;
  labels: Record<string, string>;
  /** the container's `State.StartedAt` when it was resolved: a later one means it restarted */
  startedAt?: string;
}

/** Docker labels a container must all carry; an empty value accepts any value. */
export type ExposeRule = Record<string, string>;

export function isExposed(labels: Record<string, string> | null | undefined, rule: ExposeRule): boolean {
  return Object.entries(rule).every(([key, value]) => {
    const actual = labels?.[key];
    return actual !== undefined && (value === '' || actual === value);
  });
}

function toState(state: string | undefined): TargetState {
  switch (state) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'restarting':
      return 'restarting';
    case 'created':
    case 'exited':
    case 'dead':
    case 'removing':
      return 'stopped';
    default:
      return 'unknown';
  }
}

const stripSlash = (name: string) => name.replace(/^\//, '');

export class DockerTargets {
  constructor(
    private readonly docker: Docker,
    private readonly rule: ExposeRule,
    /** containers exposed by name too (globs with `*` and `?`), whatever their labels */
    private readonly names: readonly string[] = [],
  ) {}

  private exposed(name: string, labels: Record<string, string> | null | undefined): boolean {
    return isExposed(labels, this.rule) || this.names.some((glob) => globMatch(glob, name));
  }

  /** The exposed containers, running or not, in name order. */
  async list(): Promise<Result<Target[]>> {
    const filters = { label: Object.entries(this.rule).map(([k, v]) => (v === '' ? k : `${k}=${v}`)) };
    const listed = await attempt(
      this.docker.listContainers({ all: true, ...(this.names.length === 0 ? { filters: JSON.stringify(filters) } : {}) }),
      'DOCKER_UNAVAILABLE',
      'listing containers',
    );
    if (!listed.ok) return listed;
    const targets = listed.value
      .filter((info) => this.exposed(stripSlash(info.Names[0] ?? ''), info.Labels))
      .map((info) => ({
        id: info.Id.slice(0, 12),
        name: stripSlash(info.Names[0] ?? info.Id.slice(0, 12)).slice(0, 128),
        image: info.Image.slice(0, 256),
        state: toState(info.State),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return ok(targets);
  }

  /** Finds a running, exposed container by name or id (or unambiguous id prefix). */
  async resolve(ref: string): Promise<Result<ResolvedTarget>> {
    const container = this.docker.getContainer(ref);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await withDeadline(container.inspect(), DOCKER_REQUEST_TIMEOUT_MS, 'inspecting the container');
    } catch (cause) {
      if (dockerStatus(cause) === 404) return err(unknownTarget(ref));
      return err(protocolError('DOCKER_UNAVAILABLE', `The Docker engine did not answer: ${describeError(cause)}`));
    }
    const name = stripSlash(info.Name);
    // A name lookup must not reach an unexposed container through another container's id prefix.
    // To the console an unexposed container is one that does not exist, with the same words: that
    // it exists, and its name behind an id prefix, are the host's to know (issue 11). The operator
    // learns it from the log.
    if (!this.exposed(name, info.Config.Labels)) {
      log.info('open refused: the container exists but is not exposed', {
        ref: ref.slice(0, 128),
        container: name,
        rule: describeRule(this.rule),
      });
      return err(unknownTarget(ref));
    }
    if (info.State.Paused)
      return err(
        protocolError(
          'TARGET_NOT_RUNNING',
          `Container "${name}" is paused (its processes are frozen, docker pause); unpause it to open a terminal.`,
        ),
      );
    if (!info.State.Running)
      return err(protocolError('TARGET_NOT_RUNNING', `Container "${name}" is ${info.State.Status}; start it to open a terminal.`));
    return ok({
      id: info.Id,
      name,
      container: this.docker.getContainer(info.Id),
      labels: info.Config.Labels ?? {},
      startedAt: info.State.StartedAt,
    });
  }
}

/** The refusal for a container that does not exist or is not exposed: the same words for both. */
function unknownTarget(ref: string): ReturnType<typeof protocolError> {
  return protocolError('UNKNOWN_TARGET', `No container "${ref}" is exposed by this agent; list-targets names those that are.`);
}

export function describeRule(rule: ExposeRule): string {
  return Object.entries(rule)
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join(', ');
}

/** Shell-style glob on a whole name: `*` any run of characters, `?` one character. */
export function globMatch(glob: string, name: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(name);
}
