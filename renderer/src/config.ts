/** Where the console connects, read from the page's query string or asked for in a form. */
export interface ConsoleConfig {
  signalingUrl: string;
  token: string;
  iceServers: RTCIceServer[];
  testHooks: boolean;
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
  if (missing.length > 0) return { ok: false, missing };
  return { ok: true, config: { signalingUrl, token, iceServers, testHooks: params.get('test') === '1' } };
}

/** A small form for the missing settings; submitting reloads the page with them in the query. */
export function renderConfigForm(root: HTMLElement, result: Extract<ConfigResult, { ok: false }>): void {
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
  form.append(submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const [name] of fields) {
      const value = String(data.get(name) ?? '').trim();
      if (value) params.set(name, value);
      else params.delete(name);
    }
    location.search = params.toString();
  });
  root.replaceChildren(form);
}
