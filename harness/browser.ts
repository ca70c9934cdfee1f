/** Headless Debian Chromium (/usr/bin/chromium) driven by playwright-core; Playwright never downloads a browser here. */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * `extraArgs`, e.g. `fakeCameraArgs(video)`, are added to CHROMIUM_ARGS. `executablePath` replaces
 * /usr/bin/chromium, e.g. with a wrapper that runs it in a network namespace (TestNetwork).
 */
export function launchChromium(extraArgs: readonly string[] = [], executablePath = CHROMIUM_PATH): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** A page whose console output and errors are kept for the failure dump. */
export async function newLoggedPage(browser: Browser, log: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.on('console', (msg) => log.push(`[page ${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (error) => log.push(`[page error] ${error.stack ?? error.message}`));
  page.on('crash', () => log.push('[page crashed]'));
  return page;
}
