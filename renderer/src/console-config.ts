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
    return '`ice` is not valid JSON';
  }
  if (!Array.isArray(value)) return '`ice` must be a JSON array of ICE servers';
  for (const server of value) {
    const urls = (server as { urls?: unknown } | null)?.urls;
    const valid = typeof urls === 'string' || (Array.isArray(urls) && urls.every((u) => typeof u === 'string'));
    if (!valid) return 'every ICE server needs `urls` (a string or a list of strings)';
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
  if (params.get('lan') === '1' && !signalingUrl) return { ok: true, config: { signalingUrl: '', token: '', iceServers, ...hookFlags(params) } };
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
    const ice = await host.credentials.get(ICE_CREDENTIAL).catch((error: unknown) => (console.warn(`[config] stored ICE servers not read: ${String(error)}`), null));
    if (ice) params.set('ice', ice);
  }
  if (!signalingUrl || !token) return fromQuery;
  params.set('signal', signalingUrl);
  params.set('token', token);
  return readConfig(`?${params.toString()}`);
}

/**
 * A small form for the missing settings; submitting stores the URL in settings and the token as a
 * credential through the host API, then reloads the page without them in the query.
 */
export function renderConfigForm(root: HTMLElement, result: Extract<ConfigResult, { ok: false }>, host: TetherApi): void {
  const params = new URLSearchParams(location.search);
  const form = document.createElement('form');
  form.className = 'config-form';
  form.dataset.testid = 'config-form';
  const heading = document.createElement('h1');
  heading.textContent = 'Connect to a signaling server';
  form.append(heading);
  if (result.problem) {
    const problem = document.createElement('p');
    problem.className = 'error';
    problem.textContent = result.problem;
    form.append(problem);
  }
  const fields: [name: string, label: string, type: string][] = [
    ['signal', 'Signaling URL', 'url'],
    ['token', 'Console token', 'password'],
    ['ice', 'ICE servers (JSON, optional)', 'text'],
  ];
  for (const [name, text, type] of fields) {
    const label = document.createElement('label');
    label.textContent = text;
    const input = document.createElement('input');
    input.name = name;
    input.type = type;
    input.value = params.get(name) ?? '';
    input.required = name !== 'ice';
    label.append(input);
    form.append(label);
  }
  const submit = document.createElement('button');
  submit.type = 'submit';
  submit.textContent = 'Connect';
  const offline = document.createElement('button');
  offline.type = 'button';
  offline.dataset.testid = 'config-offline';
  offline.textContent = 'Continue without a signaling server';
  offline.title = 'reach the agents this console paired with over the LAN only';
  offline.addEventListener('click', () => {
    params.set('lan', '1');
    location.search = params.toString();
  });
  form.append(submit, offline);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const value = (name: string) => String(data.get(name) ?? '').trim();
    for (const name of ['signal', 'token']) params.delete(name);
    if (value('ice')) params.set('ice', value('ice'));
    else params.delete('ice');
    Promise.all([host.settings.set({ signalingUrl: value('signal') }), host.credentials.set(TOKEN_CREDENTIAL, value('token'))]).then(
      () => (location.search = params.toString()),
      (error: unknown) => {
        const problem = document.createElement('p');
        problem.className = 'error';
        problem.textContent = `Could not store the settings: ${String(error)}`;
        form.append(problem);
      },
    );
  });
  root.replaceChildren(form);
}

/** `test=1` and `bench=1`: which hooks main.ts loads. */
function hookFlags(params: URLSearchParams): { testHooks: boolean; benchHooks: boolean } {
  return { testHooks: params.get('test') === '1', benchHooks: params.get('bench') === '1' };
}
