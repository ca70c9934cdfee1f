import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { ConsoleApp } from './app';
import { readConfig, renderConfigForm } from './config';
import { installTestHooks } from './test-hooks';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');

const result = readConfig(location.search);
if (!result.ok) {
  renderConfigForm(root, result);
} else {
  const app = new ConsoleApp(root, result.config);
  if (result.config.testHooks) installTestHooks(app);
  window.addEventListener('pagehide', () => app.dispose());
}
