/**
 * The first run (and any start without a usable configuration): says in plain words what the
 * console does and the two ways in, each with what it needs: a signaling server (its address, the
 * console token, STUN and TURN servers as fields), or pairing with an agent on the local network
 * with no server at all. Saving stores the address in settings and the token and ICE servers as
 * credentials through the host API, then reloads the page on them.
 */
import { ICE_CREDENTIAL, TOKEN_CREDENTIAL, type ConfigResult } from '../console-config';
import type { TetherApi } from '../host/host';
import { IceServerFields } from './ice-server-fields';
import { element } from '../ui/dom';
import { field } from './settings-field';

export async function renderFirstRun(root: HTMLElement, result: Extract<ConfigResult, { ok: false }>, host: TetherApi): Promise<void> {
  const params = new URLSearchParams(location.search);
  const settings = await host.settings.get();
  const credentials = await host.credentials
    .status()
    .catch((error: unknown) => ({ encrypted: false, description: `kept in a store of unknown safety (${String(error)})` }));
  const page = element('main', { className: 'first-run' }, 'config-form');
  page.append(
    element('h1', { textContent: 'Welcome to Tether' }),
    element('p', {
      className: 'first-run-intro',
      textContent:
        'Tether opens a terminal in the containers (vPLCs) of your industrial hosts. A small agent runs on each host; this console connects to it. There are two ways in:',
    }),
  );
  if (result.problem) page.append(element('p', { className: 'error', textContent: result.problem }, 'config-problem'));

  // 1. Through a signaling server.
  const cloud = element('form', { className: 'first-run-way' }, 'first-run-cloud');
  const url = element(
    'input',
    {
      type: 'url',
      name: 'signal',
      required: true,
      value: params.get('signal') ?? settings.signalingUrl,
      placeholder: 'https://signaling.example.com',
    },
    'first-run-signal',
  );
  const token = element(
    'input',
    { type: 'password', name: 'token', required: true, autocomplete: 'off', value: params.get('token') ?? '' },
    'first-run-token',
  );
  const ice = new IceServerFields([], 'first-run-ice');
  const problem = element('p', { className: 'error', hidden: true }, 'first-run-problem');
  const storage = element(
    'p',
    { className: credentials.encrypted ? 'settings-hint' : 'credential-warning' },
    'first-run-credential-status',
  );
  storage.textContent = `${credentials.encrypted ? 'The' : 'Warning: the'} token and TURN passwords: ${credentials.description}.`;
  const connect = element('button', { type: 'submit', className: 'primary', textContent: 'Sign in and connect' }, 'first-run-connect');
  cloud.append(
    element('h2', { textContent: '1. Sign in to a signaling server' }),
    element('p', {
      textContent:
        'If your organisation runs a Tether signaling server, in the cloud or on site, enter its address and the console token its operator gave you. You will see every agent the server knows, wherever it is.',
    }),
    field('Signaling server', url),
    field('Console token', token),
    element('span', { className: 'settings-label', textContent: 'STUN and TURN servers (optional)' }),
    element('span', {
      className: 'settings-hint',
      textContent: 'Only needed when the hosts are behind firewalls that block a direct path: your operator tells you which.',
    }),
    ice.element,
    storage,
    problem,
    connect,
  );
  cloud.addEventListener('submit', (event) => {
    event.preventDefault();
    const servers = ice.read();
    const address = url.value.trim();
    const wrong = !servers.ok
      ? servers.problem
      : !/^https?:\/\//i.test(address)
        ? 'The signaling server address starts with http:// or https://.'
        : !token.value.trim()
          ? 'Enter the console token.'
          : undefined;
    problem.hidden = !wrong;
    problem.textContent = wrong ?? '';
    if (wrong || !servers.ok) return;
    const saved = Promise.all([
      host.settings.set({ signalingUrl: address }),
      host.credentials.set(TOKEN_CREDENTIAL, token.value.trim()),
      servers.servers.length > 0
        ? host.credentials.set(ICE_CREDENTIAL, JSON.stringify(servers.servers))
        : host.credentials.delete(ICE_CREDENTIAL),
    ]);
    saved.then(
      () => {
        for (const name of ['signal', 'token', 'ice', 'lan']) params.delete(name);
        location.search = params.toString();
      },
      (error: unknown) => {
        problem.hidden = false;
        problem.textContent = `The settings could not be stored: ${String(error)}`;
      },
    );
  });

  // 2. Pairing, with no server.
  const lan = element('section', { className: 'first-run-way' }, 'first-run-pairing');
  const offline = element('button', { type: 'button', className: 'primary', textContent: 'Continue without a server' }, 'config-offline');
  offline.addEventListener('click', () => {
    params.set('lan', '1');
    location.search = params.toString();
  });
  lan.append(
    element('h2', { textContent: '2. Pair with an agent on your network' }),
    element('p', {
      textContent:
        'No server and no internet needed. On the host, run "tether-agent pair": it prints a token and a QR code. Continue, choose "Pair an agent", and paste the token or scan the code. The console then reaches that agent directly over the local network.',
    }),
    offline,
  );
  page.append(
    cloud,
    lan,
    element('p', { className: 'settings-hint', textContent: 'You can change all of this later in Settings (Ctrl+,).' }),
  );
  root.replaceChildren(page);
  url.focus();
}
