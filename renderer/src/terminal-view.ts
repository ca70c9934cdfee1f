import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { AckBatcher } from './ack-batcher';
import { DisposableStore, type Disposable } from './emitter';
import { describeError } from './error-hints';
import type { TerminalSession } from './terminal-session';

/** Counters a tab keeps about its output, for the status line and the test hooks. */
export interface OutputStats {
  received: number;
  parsed: number;
  acked: number;
}

/** xterm.js bound to one session: output in (acked after parsing), keyboard and size out. */
export class TerminalView implements Disposable {
  readonly element: HTMLElement;
  readonly stats: OutputStats = { received: 0, parsed: 0, acked: 0 };
  private readonly store = new DisposableStore();
  private readonly term: Terminal;
  private readonly fitAddon = new FitAddon();
  private readonly acks: AckBatcher;
  private inputOpen = true;
  /** Extra consumers of raw output (the test hooks' capture). */
  outputTap: ((bytes: Uint8Array) => void) | undefined;
  /**
   * Where output goes: `xterm` (always, in the product), or `count`, for the bench only: output is
   * counted and acknowledged on receipt and never written to xterm, to measure the channel alone.
   */
  sink: 'xterm' | 'count' = 'xterm';

  constructor(
    parent: HTMLElement,
    private readonly session: TerminalSession,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'terminal-host';
    this.element.dataset.testid = 'terminal';
    parent.append(this.element);
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
      fontSize: 14,
      scrollback: 5000,
    });
    this.term.loadAddon(this.fitAddon);
    this.acks = new AckBatcher((bytes) => {
      this.stats.acked += bytes;
      this.session.ack(bytes);
    });
    this.store.add(this.acks);
    this.store.add(this.term.onData((data) => {
      if (this.inputOpen) this.session.write(data);
    }));
    this.store.add(this.term.onBinary((data) => {
      if (!this.inputOpen) return;
      const bytes = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
      this.session.write(bytes);
    }));
    this.store.add(this.term.onResize(({ cols, rows }) => this.session.resize(cols, rows)));
    this.store.add(session.onOutput((bytes) => this.writeOutput(bytes)));
    this.store.add(session.onExit((code) => {
      this.inputOpen = false;
      this.term.write(`\r\n\x1b[1m[process exited with code ${code ?? 'unknown'}]\x1b[0m\r\n`);
    }));
    this.store.add(session.onError((error) => {
      this.term.write(`\r\n\x1b[1;31m${describeError(error)}\x1b[0m\r\n`);
      if (error.fatal) this.inputOpen = false;
    }));
    this.store.add(session.onClosed(() => {
      this.inputOpen = false;
    }));
    this.store.listen(window, 'resize', () => this.fit());
  }

  /** Opens xterm in its element; call once the element is visible so that it can be measured. */
  attach(): void {
    this.term.open(this.element);
    this.fit();
    this.session.resize(this.term.cols, this.term.rows);
  }

  get size(): { cols: number; rows: number } {
    return { cols: this.term.cols, rows: this.term.rows };
  }

  /** Fits the terminal to its element; xterm fires onResize, and so the session, only on change. */
  fit(): void {
    if (this.element.offsetParent === null) return;
    this.fitAddon.fit();
  }

  focus(): void {
    this.term.focus();
  }

  /** The active buffer's lines, right-trimmed, joined by '\n'. */
  screenText(): string {
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }

  dispose(): void {
    this.store.dispose();
    this.term.dispose();
    this.element.remove();
  }

  private writeOutput(bytes: Uint8Array): void {
    this.stats.received += bytes.byteLength;
    this.outputTap?.(bytes);
    if (this.sink === 'count') {
      this.stats.parsed += bytes.byteLength;
      this.acks.parsed(bytes.byteLength);
      return;
    }
    // Ack only once xterm has parsed the bytes, so a slow renderer slows the agent down.
    this.term.write(bytes, () => {
      this.stats.parsed += bytes.byteLength;
      this.acks.parsed(bytes.byteLength);
    });
  }
}
