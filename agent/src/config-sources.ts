/**
 * Where configuration comes from besides flags: the environment and the JSON config file, and the
 * small parsers (labels, ICE servers, durations) that flags share with them.
 */
import { readFileSync } from 'node:fs';
import { err, ok, type Result } from '@tether/protocol';
import type { ConfigLayer } from './config-schema.js';

export const list = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

export function parseLabels(entries: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at < 0) labels[entry] = '';
    else labels[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return labels;
}

export function parseIceServer(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return { urls: trimmed };
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    // left as text, the schema reports it as "expected object" at its place in the list
    return trimmed;
  }
}

function parseIceServers(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      return [trimmed];
    }
  }
  return (list(trimmed) ?? []).map(parseIceServer);
}

export function defined(source: ConfigLayer): ConfigLayer {
  return Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined));
}

export function fromEnv(env: NodeJS.ProcessEnv): ConfigLayer {
  const e = (name: string) => env[`TETHER_AGENT_${name}`];
  const labels = list(e('LABELS'));
  const ice = e('ICE_SERVERS');
  return defined({
    signalingUrl: e('SIGNALING_URL'),
    token: e('TOKEN'),
    agentId: e('ID'),
    name: e('NAME'),
    labels: labels ? parseLabels(labels) : undefined,
    iceServers: ice === undefined ? undefined : parseIceServers(ice),
    iceHosts: list(e('ICE_HOSTS')),
    iceInterface: e('ICE_INTERFACE'),
    iceTransportPolicy: e('ICE_TRANSPORT_POLICY'),
    dockerSocket: e('DOCKER_SOCKET'),
    shells: list(e('SHELLS')),
    user: e('USER'),
    logLevel: e('LOG_LEVEL'),
    sessionPriority: e('SESSION_PRIORITY'),
    // the same variable `tether-agent pair` and `consoles` read, so a service and its commands agree
    stateDir: e('STATE_DIR'),
  });
}

export function fromFile(path: string): Result<ConfigLayer, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    return err(`cannot read config file ${path}: ${(cause as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return err(`config file ${path} must hold a JSON object`);
    }
    return ok(value as ConfigLayer);
  } catch (cause) {
    return err(`config file ${path} is not valid JSON: ${(cause as Error).message}`);
  }
}

export const num = (text: string | undefined) => (text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : text);

/** `90`, `90s`, `15m`, `2h`, `1d` (seconds by default) in milliseconds; the text itself when malformed. */
export function duration(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return text;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
