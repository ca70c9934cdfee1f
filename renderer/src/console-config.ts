import type { TetherApi } from './host/host';

/** The credential under which the console token is kept (encrypted in Electron). */
export const TOKEN_CREDENTIAL = 'signaling-token';
/** The credential under which the ICE servers are kept as JSON: TURN servers carry passwords. */
export const ICE_CREDENTIAL = 'ice-servers';

/** Where the console connects, read from the page's query string or asked for in a form. */
export interface ConsoleConfig {
  signalingUrl: string;
  token: string;
  iceServers: RTCIceServer[];
  testHooks: boolean;
  /** `bench=1`: the bench's measurement hooks beside the test hooks (bench-hooks.ts) */
  benchHooks: boolean;
}

export type ConfigResult = { ok: true; config: ConsoleConfig } | { ok: false; missing: string[]; problem?: string };

function parseIceServers(raw: string | null): RTCIceServer[] | string {
  if (!raw) return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return 'The "ice" parameter in the address is not valid JSON.';
  }
  if (!Array.isArray(value)) return 'The "ice" parameter in the address must be a JSON list of ICE servers.';
  for (const server of value) {
    const urls = (server as { urls?: unknown } | null)?.urls;
    const valid = typeof urls === 'string' || (Array.isArray(urls) && urls.every((u) => typeof u === 'string'));
    if (!valid) return 'Every ICE server in the "ice" parameter needs "urls" (a text or a list of texts).';
  }
  return value as RTCIceServer[];
}

export function readConfig(search: string): ConfigResult {
  const params = new URLSearchParams(search);
  const signalingUrl = params.get('signal') ?? '';
  const token = params.get('token') ?? '';
  const iceServers = parseIceServers(params.get('ice'));
  const missing = [...(signalingUrl ? [] : ['signal']), ...(token ? [] : ['token'])];
  if (typeof iceServers === 'string') return { ok: false, missing, problem: iceServers };
  // `lan=1`: no signaling server; the console reaches the agents it paired with over the LAN.
  if (params.get('lan') === '1' && !signalingUrl)
    return { ok: true, config: { signalingUrl: '', token: '', iceServers, ...hookFlags(params) } };
  if (missing.length > 0) return { ok: false, missing };
  return { ok: true, config: { signalingUrl, token, iceServers, ...hookFlags(params) } };
}

/**
 * The query string first (tests, links from `npm run demo`), else what the host remembers: the
 * signaling URL in settings, the token as a credential.
 */
export async function resolveConfig(search: string, host: TetherApi): Promise<ConfigResult> {
  const fromQuery = readConfig(search);
  if (fromQuery.ok || fromQuery.problem) return fromQuery;
  const params = new URLSearchParams(search);
  const signalingUrl = params.get('signal') || (await host.settings.get()).signalingUrl;
  const token = params.get('token') || ((await host.credentials.get(TOKEN_CREDENTIAL)) ?? '');
  if (!params.get('ice')) {
    const ice = await host.credentials
      .get(ICE_CREDENTIAL)
      .catch((error: unknown) => (console.warn(`[config] stored ICE servers not read: ${String(error)}`), null));
    if (ice) params.set('ice', ice);
  }
  if (!signalingUrl || !token) return fromQuery;
  params.set('signal', signalingUrl);
  params.set('token', token);
  return readConfig(`?${params.toString()}`);
}

/** `test=1` and `bench=1`: which hooks main.ts loads. */
function hookFlags(params: URLSearchParams): { testHooks: boolean; benchHooks: boolean } {
  return { testHooks: params.get('test') === '1', benchHooks: params.get('bench') === '1' };
}
