import '@xterm/xterm/css/xterm.css';
import './styles.css';
// The terminal's bundled fonts (terminal/fonts.ts): files of the app, no network.
import '@fontsource/jetbrains-mono/400.css';
import '@fontsource/jetbrains-mono/700.css';
import '@fontsource/dejavu-mono/400.css';
import '@fontsource/dejavu-mono/700.css';
import './transfer/transfer.css';
import './tabs/tabs.css';
import { ConsoleApp } from './app';
import { resolveConfig } from './console-config';
import { renderFirstRun } from './settings/first-run';
import { getHost } from './host/host';
import { loadConsoleIdentity } from './trust/console-identity';
import { TrustStore } from './trust/trust-store';
import { loadTerminalFont } from './terminal/fonts';

async function start(root: HTMLElement): Promise<void> {
  const host = getHost();
  const settings = await host.settings.get();
  document.documentElement.dataset.theme = settings.theme;
  const result = await resolveConfig(location.search, host);
  if (!result.ok) {
    await renderFirstRun(root, result, host);
    return;
  }
  const trustStore = new TrustStore();
  const [identity, paired] = await Promise.all([loadConsoleIdentity(trustStore), trustStore.pairedAgents()]);
  const trust = { identity, store: trustStore, paired };
  await loadTerminalFont(settings.fontFamily, settings.fontSize);
  const { testHooks, benchHooks } = result.config;
  // Test and bench hooks stay out of the product's code path: loaded only behind their flag.
  const testing = testHooks || benchHooks ? await import('./test-hooks') : undefined;
  const bench = benchHooks ? await import('./bench-hooks') : undefined;
  const transports = testing?.testTransports();
  const app = new ConsoleApp(root, result.config, host, settings, trust, transports);
  if (testing && transports) {
    const hooks = testing.installTestHooks(app, transports.network);
    if (bench) Object.assign(hooks, bench.benchHooks(app, hooks.dropPath));
  }
  // A reload or a closing window keeps the shells: the agents hold them, and the next run takes them back.
  window.addEventListener('pagehide', () => app.unload());
  await app.restoreTabs();
}

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
start(root).catch((error: unknown) => {
  root.textContent = `The console could not start: ${error instanceof Error ? error.message : String(error)}`;
  console.error(error);
});
