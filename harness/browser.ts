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

/** How many times each page asked before unloading (the console asks while shells run). */
const unloadQuestions = new WeakMap<Page, number>();

export function beforeUnloadQuestions(page: Page): number {
  return unloadQuestions.get(page) ?? 0;
}

/**
 * A page whose console output and errors are kept for the failure dump. The console asks before a
 * reload or navigation while shells run; the tests answer yes (and count the questions), as the
 * tests' navigations did before the console asked.
 */
export async function newLoggedPage(browser: Browser, log: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    log.push(`[page dialog ${dialog.type()}] ${dialog.message()}`);
    if (dialog.type() === 'beforeunload') unloadQuestions.set(page, beforeUnloadQuestions(page) + 1);
    (dialog.type() === 'beforeunload' ? dialog.accept() : dialog.dismiss()).catch((error: unknown) =>
      log.push(`[page dialog] ${String(error)}`),
    );
  });
  page.on('console', (msg) => log.push(`[page ${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (error) => log.push(`[page error] ${error.stack ?? error.message}`));
  page.on('crash', () => log.push('[page crashed]'));
  return page;
}
