/** Drives the console page through its UI and reads it through `window.__tetherTest`. */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { waitFor } from './wait.js';

/** Screenshots the tests keep as artifacts; the README links them. */
export const SCREENSHOTS_DIR = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const RESULTS_SCREENSHOTS_DIR = fileURLToPath(new URL('../test-results/screenshots/', import.meta.url));

export interface TabSummary {
  id: string;
  agentId: string;
  target: string;
  title: string;
  active: boolean;
  state: string;
  stage: string;
  stageHistory: string[];
  exitCode: number | null | undefined;
  sessionId: string | undefined;
  lastError: { code: string; message: string } | undefined;
  activity: boolean;
  path: 'direct' | 'relayed' | undefined;
  rttMs: number | undefined;
  targetState: string | undefined;
  connectionLost: string | undefined;
  renderer: 'webgl' | 'dom';
  sessionReceived: number;
  resumeCount: number;
  lastResumed: { from: number; lost: number } | undefined;
  reconnectAttempt: number | undefined;
  resumeAttempts: number;
  droppedInput: number;
  undeliveredInput: string[];
  resumeGraceMs: number;
  /** the shell's host pid from the agent's `running`; undefined before it */
  hostPid: number | undefined;
}

export interface TransferFacts {
  id: string;
  direction: 'upload' | 'download';
  name: string;
  state: 'starting' | 'running' | 'verifying' | 'done' | 'failed' | 'cancelled' | 'interrupted';
  bytes: number;
  total: number | null;
  rate: number;
  path: string | undefined;
  sha256: string | undefined;
  error: { code: string; message: string } | undefined;
  elapsedMs: number;
}

export interface CaptureDigest {
  sha256: string;
  length: number;
  found: boolean;
}

type Hooks = Record<string, (...args: never[]) => unknown>;

export class ConsolePage {
  constructor(readonly page: Page) {}

  private call<T>(name: string, ...args: unknown[]): Promise<T> {
    return this.page.evaluate(
      ([hook, hookArgs]) => {
        const hooks = (window as unknown as { __tetherTest?: Hooks }).__tetherTest;
        if (!hooks) throw new Error('window.__tetherTest is missing (was the page opened with test=1?)');
        const fn = hooks[hook as string] as unknown as (...a: unknown[]) => unknown;
        return fn(...(hookArgs as unknown[]));
      },
      [name, args] as const,
    ) as Promise<T>;
  }

  tabs = () => this.call<TabSummary[]>('tabs');
  screen = (tabId: string) => this.call<string>('screen', tabId);
  size = (tabId: string) => this.call<{ cols: number; rows: number }>('size', tabId);
  capture = (tabId: string, on: boolean) => this.call<void>('capture', tabId, on);
  captured = (tabId: string) => this.call<string>('captured', tabId);
  capturedLength = (tabId: string) => this.call<number>('capturedLength', tabId);
  capturedSha256NoCR = (tabId: string, begin?: string, end?: string) => this.call<CaptureDigest>('capturedSha256NoCR', tabId, begin, end);
  received = (tabId: string) => this.call<number>('received', tabId);
  acked = (tabId: string) => this.call<number>('acked', tabId);
  sendRaw = (tabId: string, data: string | number) => this.call<{ ok: boolean; error?: string }>('sendRaw', tabId, data);
  errors = (tabId: string) => this.call<{ code: string; message: string }[]>('errors', tabId);
  openTab = (agentId: string, target: string) => this.call<string>('openTab', agentId, target);
  activate = (tabId: string) => this.call<void>('activate', tabId);
  /** Kills the network path to the agent from the console's side; attempts fail for `outageMs`. */
  dropPath = (agentId: string, outageMs: number) => this.call<boolean>('dropPath', agentId, outageMs);
  /** Closes the tab's channel without `close`; the peer connection stays. */
  dropChannel = (tabId: string) => this.call<void>('dropChannel', tabId);
  disconnectAgent = (agentId: string) => this.call<void>('disconnectAgent', agentId);
  /** The console's own lines in the tab's terminal (reconnect and loss notices), oldest first. */
  notices = (tabId: string) => this.call<string[]>('notices', tabId);
  /** Shells of tabs closed while reconnecting that the console has yet to end on the agent. */
  abandonedSessions = () => this.call<number>('abandonedSessions');
  /** The tab's file transfers (renderer/src/transfer), finished ones until dismissed. */
  transfers = (tabId: string) => this.call<TransferFacts[]>('transfers', tabId);

  async tab(tabId: string): Promise<TabSummary> {
    const tab = (await this.tabs()).find((t) => t.id === tabId);
    if (!tab) throw new Error(`no tab ${tabId}`);
    return tab;
  }

  /** The tab's button in the strip, and its panel. */
  tabButton(tabId: string) {
    return this.page.locator(`[data-testid="tab"][data-tab-id="${tabId}"]`);
  }

  panel(tabId: string) {
    return this.page.locator(`.tab-panel[data-tab-id="${tabId}"]`);
  }

  /**
   * Saves the page (viewport) as test-results/screenshots/<name>.png, and as the README's
   * docs/screenshots/<name>.png when TETHER_UPDATE_SCREENSHOTS=1 (so that a test run leaves the
   * working tree clean).
   */
  async screenshot(name: string): Promise<void> {
    const dir = process.env['TETHER_UPDATE_SCREENSHOTS'] === '1' ? SCREENSHOTS_DIR : RESULTS_SCREENSHOTS_DIR;
    mkdirSync(dir, { recursive: true });
    await this.page.mouse.move(0, 0);
    await this.page.screenshot({ path: `${dir}${name}.png` });
  }

  /** Clicks the tab's ×; answers the "still running" question with `confirm` when it is asked. */
  async closeByClick(tabId: string, confirm = true): Promise<void> {
    await this.tabButton(tabId).locator('[data-testid="tab-close"]').click();
    const dialog = this.page.locator('[data-testid="confirm-dialog"]');
    if (await dialog.count()) await dialog.locator(`[data-testid="${confirm ? 'confirm-accept' : 'confirm-cancel'}"]`).click();
  }

  async lines(tabId: string): Promise<string[]> {
    return (await this.screen(tabId)).split('\n');
  }

  /**
   * Takes the pointer off the device list (onto the toolbar), as an engineer looking for a row does:
   * while the pointer is on the list, rows keep their order and agents that join wait
   * (renderer/src/devices/device-panel.ts).
   */
  async leaveDeviceList(): Promise<void> {
    await this.page.mouse.move(1, 1);
  }

  /** Waits until the agent is listed (presence), connects it by clicking, and waits for its targets. */
  async connectAgent(agentId: string, timeoutMs = 30_000): Promise<void> {
    await this.leaveDeviceList();
    const agent = this.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"]`);
    await agent.waitFor({ timeout: timeoutMs });
    const connect = agent.locator('[data-testid="agent-connect"]');
    if (await connect.count()) await connect.click();
    await waitFor(
      async () => (await agent.locator('[data-testid="connection-state"]').getAttribute('data-stage')) === 'ready',
      `agent ${agentId} to reach the "ready" stage (stage now: ${await agent.locator('[data-testid="connection-state"]').textContent()})`,
      timeoutMs,
    );
  }

  /** Opens a tab by clicking the target in the agent's list; returns the new tab's id once opened. */
  async openTargetByClick(agentId: string, targetName: string, timeoutMs = 30_000): Promise<string> {
    await this.connectAgent(agentId, timeoutMs);
    const before = new Set((await this.tabs()).map((t) => t.id));
    const target = this.page.locator(
      `[data-testid="agent"][data-agent-id="${agentId}"] [data-testid="target"][data-target-name="${targetName}"]`,
    );
    await target.waitFor({ timeout: timeoutMs });
    await target.click();
    const tab = await waitFor(async () => (await this.tabs()).find((t) => !before.has(t.id)), `a new tab for ${targetName}`, timeoutMs);
    return this.waitOpened(tab.id, timeoutMs);
  }

  async waitOpened(tabId: string, timeoutMs = 30_000): Promise<string> {
    await waitFor(
      async () => {
        const tab = await this.tab(tabId);
        if (tab.state === 'failed' || tab.state === 'closed')
          throw new Error(`tab ${tabId} ${tab.state}: ${JSON.stringify(tab.lastError)}`);
        return tab.state === 'open';
      },
      `tab ${tabId} to open`,
      timeoutMs,
    );
    return tabId;
  }

  /** Brings the tab to the front and clicks into its terminal, so keyboard input goes there. */
  async focus(tabId: string): Promise<void> {
    await this.activate(tabId);
    await this.page.locator(`.tab-panel[data-tab-id="${tabId}"] [data-testid="terminal"]`).click();
  }

  /** Types `keys` with the real keyboard, each '\r' as Enter (the keys a notice said did not arrive). */
  async typeKeys(tabId: string, keys: string): Promise<void> {
    await this.focus(tabId);
    const parts = keys.split('\r');
    for (const [i, part] of parts.entries()) {
      if (part) await this.page.keyboard.type(part);
      if (i < parts.length - 1) await this.page.keyboard.press('Enter');
    }
  }

  /** Types a command line with the real keyboard and presses Enter. */
  async typeLine(tabId: string, text: string): Promise<void> {
    await this.focus(tabId);
    await this.page.keyboard.type(text);
    await this.page.keyboard.press('Enter');
  }

  /** Waits until some screen line, trimmed, equals `line`; returns the screen. */
  waitForLine(tabId: string, line: string | RegExp, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      async () => {
        const screen = await this.screen(tabId);
        const hit = screen.split('\n').some((l) => (typeof line === 'string' ? l.trim() === line : line.test(l.trim())));
        return hit ? screen : undefined;
      },
      `a line ${String(line)} in tab ${tabId}`,
      timeoutMs,
    );
  }

  pairedAgents = () =>
    this.call<{ agentId: string; name: string; fingerprint: string; consoleId: string; endpoints: string[] }[]>('pairedAgents');
  consoleFingerprint = () => this.call<string>('consoleFingerprint');

  /** The pairing dialog, opened with the device panel's "Pair an agent" when it is not open. */
  async openPairingDialog() {
    const dialog = this.page.locator('[data-testid="pairing-dialog"]');
    if (!(await dialog.count())) await this.page.locator('[data-testid="pair-agent"]').click();
    await dialog.waitFor();
    return dialog;
  }

  /**
   * Waits for the pairing dialog's outcome: `error` with the refusal's code, its one-line text and
   * its details; or `ok` once the dialog has closed and an agent is selected in the device list
   * (`agentId`: the selected one).
   */
  async pairingOutcome(timeoutMs = 30_000): Promise<{ kind: string; code: string; text: string; detail: string; agentId: string }> {
    return waitFor(
      async () => {
        // One read of the page: the dialog may close, and the list rebuild its rows, between two.
        const seen = await this.page.evaluate(() => {
          // No named inner functions here: the test's compiler would wrap them in a helper the page lacks.
          const dialog = document.querySelector('[data-testid="pairing-dialog"]');
          const status = dialog?.querySelector<HTMLElement>('[data-testid="pairing-status"]');
          return {
            open: dialog !== null,
            kind: status?.dataset['kind'] ?? '',
            code: status?.dataset['code'] ?? '',
            text: status?.textContent ?? '',
            detail: dialog?.querySelector('[data-testid="pairing-detail"]')?.textContent ?? '',
            selected: document.querySelector<HTMLElement>('[data-testid="agent"][data-selected="true"]')?.dataset['agentId'] ?? '',
          };
        });
        if (!seen.open) return seen.selected ? { kind: 'ok', code: '', text: '', detail: '', agentId: seen.selected } : undefined;
        if (seen.kind !== 'error') return undefined;
        return { kind: seen.kind, code: seen.code, text: seen.text, detail: seen.detail, agentId: '' };
      },
      'the pairing outcome',
      timeoutMs,
    );
  }

  /** Pastes the token into the pairing dialog and clicks Pair, as a person would; returns the outcome. */
  async pairByPaste(token: string): Promise<{ kind: string; code: string; text: string; detail: string; agentId: string }> {
    const dialog = await this.openPairingDialog();
    await dialog.locator('[data-testid="pairing-status"]').evaluate((node) => node.removeAttribute('data-kind'));
    await dialog.locator('[data-testid="pairing-token"]').fill(token);
    await dialog.locator('[data-testid="pairing-submit"]').click();
    return this.pairingOutcome();
  }

  /** The settings screen, opened with the toolbar's Settings button when it is not open. */
  async openSettings() {
    const settings = this.page.locator('[data-testid="settings"]');
    if (!(await settings.count())) await this.page.locator('[data-testid="settings-open"]').click();
    await settings.waitFor();
    return settings;
  }

  async closeSettings(): Promise<void> {
    const settings = this.page.locator('[data-testid="settings"]');
    if (await settings.count()) await settings.locator('[data-testid="settings-close"]').click();
    await settings.waitFor({ state: 'detached' });
  }

  async closePairingDialog(): Promise<void> {
    const dialog = this.page.locator('[data-testid="pairing-dialog"]');
    if (await dialog.count()) await dialog.locator('[data-testid="pairing-cancel"]').click();
  }

  /** The agent's connection state in the device list: its stage, failure code and text. */
  async agentState(agentId: string): Promise<{ stage: string; code: string; text: string }> {
    // One read of all three: read apart, a retry could start between them and mix two states.
    const state = this.page.locator(`[data-testid="agent"][data-agent-id="${agentId}"] [data-testid="connection-state"]`);
    return state.evaluate((node) => ({
      stage: node.getAttribute('data-stage') ?? '',
      code: node.getAttribute('data-code') ?? '',
      text: node.textContent ?? '',
    }));
  }

  /** Waits until the shell in the tab has printed something (its prompt). */
  waitForPrompt(tabId: string, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      async () => ((await this.screen(tabId)).trim().length > 0 ? this.screen(tabId) : undefined),
      `a prompt in tab ${tabId}`,
      timeoutMs,
    );
  }
}
