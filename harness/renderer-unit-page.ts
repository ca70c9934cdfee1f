/**
 * A bare Chromium page running renderer modules with no server: `entry` is TypeScript that imports
 * them (paths relative to `resolveDir`) and puts hooks on `window`; it is bundled by esbuild with the
 * `source` condition and loaded into an empty page. For the renderer's unit tests that need a real
 * browser (focus, selection, pointer events); close the browser after the file.
 */
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser.js';

export interface UnitPageOptions {
  viewport?: { width: number; height: number };
  /** the body's inline style */
  bodyStyle?: string;
}

export async function openUnitPage(
  entry: string,
  resolveDir: string,
  options: UnitPageOptions = {},
): Promise<{ browser: Browser; page: Page }> {
  const bundle = await build({
    stdin: { contents: entry, resolveDir, loader: 'ts' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    conditions: ['source'],
    logLevel: 'silent',
  });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage(options.viewport ? { viewport: options.viewport } : {});
    await page.setContent(`<!doctype html><html><body style="${options.bodyStyle ?? ''}"></body></html>`);
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    return { browser, page };
  } catch (error) {
    await browser.close();
    throw error;
  }
}
