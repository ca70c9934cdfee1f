import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { ConsoleApp } from './app';
import { renderConfigForm, resolveConfig } from './config';
import { getHost } from './host/host';
import { installTestHooks } from './test-hooks';
import { loadConsoleIdentity } from './trust/console-identity';
import { TrustStore } from './trust/trust-store';

async function start(root: HTMLElement): Promise<void> {
  const host = getHost();
  const settings = await host.settings.get();
  document.documentElement.dataset.theme = settings.theme;
  const result = await resolveConfig(location.search, host);
  if (!result.ok) {
    renderConfigForm(root, result, host);
    return;
  }
  const trustStore = new TrustStore();
  const [identity, paired] = await Promise.all([loadConsoleIdentity(trustStore), trustStore.pairedAgents()]);
  const app = new ConsoleApp(root, result.config, host, settings, { identity, store: trustStore, paired });
  if (result.config.testHooks) installTestHooks(app);
  window.addEventListener('pagehide', () => app.dispose());
}

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
start(root).catch((error: unknown) => {
  root.textContent = `The console could not start: ${error instanceof Error ? error.message : String(error)}`;
  console.error(error);
});
