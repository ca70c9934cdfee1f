import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { WebglAddon } from '@xterm/addon-webgl';
import { Terminal } from '@xterm/xterm';
import { AckBatcher } from './ack-batcher';
import { DisposableStore, Emitter, type Disposable } from '../base/emitter';
import { exitText, sessionErrorText } from './error-hints';
import type { TerminalSession } from '../session/terminal-session';
import { TERMINAL_THEMES, type ThemeName } from './themes';
import { fontFamilyFor, TERMINAL_LINE_HEIGHT, type TerminalFontId } from './fonts';

/** Counters a tab keeps about its output, for the status line and the test hooks. */
export interface OutputStats {
  received: number;
  parsed: number;
  acked: number;
}

export interface TerminalViewOptions {
  theme: ThemeName;
  fontSize: number;
  /** absent: the default font */
  fontFamily: TerminalFontId | undefined;
  /** asked before a paste of more than one line is sent; resolves true to send it */
  confirmPaste(text: string): Promise<boolean>;
  onSelection(text: string): void;
  openLink(url: string): void;
}

/** xterm.js and its addons, bound to one session at a time: output in (acked after parsing), keys out. */
export class TerminalView implements Disposable {
  readonly element: HTMLElement;
  readonly stats: OutputStats = { received: 0, parsed: 0, acked: 0 };
  /** the last notices written with `notice`, oldest first (test hooks) */
  readonly notices: string[] = [];
  /** `webgl`, or `dom` where WebGL is missing or its context was lost */
  renderer: 'webgl' | 'dom' = 'dom';
  private readonly store = new DisposableStore();
  private readonly term: Terminal;
  private readonly fitAddon = new FitAddon();
  readonly search = new SearchAddon();
  private binding = new DisposableStore();
  private bound: TerminalSession | undefined;
  private acks: AckBatcher | undefined;
  private inputOpen = false;
  private readonly outputEmitter = new Emitter<Uint8Array>();
  /** Output arrived from the bound session, whichever it is (the activity badge of background tabs). */
  readonly onOutput = this.outputEmitter.event;
  private readonly inputEmitter = new Emitter<string | Uint8Array>();
  /** The user typed (or pasted) into this terminal and it went to the session (broadcast input). */
  readonly onInput = this.inputEmitter.event;
  private readonly refusedEmitter = new Emitter<void>();
  /** The user typed while no session takes input (none bound, or it has ended): the key went nowhere. */
  readonly onInputRefused = this.refusedEmitter.event;
  private readonly resizeEmitter = new Emitter<{ cols: number; rows: number }>();
  /** The terminal's size in cells changed (a fit after the window, the panel or the font changed). */
  readonly onResize = this.resizeEmitter.event;
  /**
   * Where output goes: `xterm` (always, in the product), or `count`, for the bench only: output is
   * counted and acknowledged on receipt and never written to xterm, to measure the channel alone.
   */
  sink: 'xterm' | 'count' = 'xterm';

  constructor(
    parent: HTMLElement,
    private readonly options: TerminalViewOptions,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'terminal-host';
    this.element.dataset.testid = 'terminal';
    parent.append(this.element);
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: fontFamilyFor(options.fontFamily),
      fontSize: options.fontSize,
      lineHeight: TERMINAL_LINE_HEIGHT,
      scrollback: 10_000,
      allowProposedApi: true, // unicode11 sets the proposed `unicode.activeVersion`
      theme: TERMINAL_THEMES[options.theme],
    });
    this.term.loadAddon(this.fitAddon);
    this.term.loadAddon(this.search);
    this.term.loadAddon(new Unicode11Addon());
    this.term.unicode.activeVersion = '11';
    this.term.loadAddon(new WebLinksAddon((_event, url) => options.openLink(url)));
    this.store.add(this.term.onData((data) => this.input(data)));
    this.store.add(
      this.term.onBinary((data) => {
        const bytes = new Uint8Array(data.length);
        for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
        this.input(bytes);
      }),
    );
    this.store.add(
      this.term.onResize(({ cols, rows }) => {
        this.bound?.resize(cols, rows);
        this.resizeEmitter.fire({ cols, rows });
      }),
    );
    this.store.add(
      this.term.onSelectionChange(() => {
        const selection = this.term.getSelection();
        if (selection) options.onSelection(selection);
      }),
    );
    // A multi-line paste is asked about before xterm sends it (capture phase: before xterm's own).
    this.store.listen(
      this.element,
      'paste',
      (event) => {
        const text = (event as ClipboardEvent).clipboardData?.getData('text/plain') ?? '';
        if (!/[\r\n]/.test(text.replace(/[\r\n]+$/, ''))) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        void this.paste(text);
      },
      true,
    );
    // Whatever changes the terminal's room (the window, the device list's width, a split) fits it,
    // once per frame however often it changes: each fit that changes the size resizes the PTY.
    let frame = 0;
    const observer = new ResizeObserver(() => {
      if (frame === 0)
        frame = requestAnimationFrame(() => {
          frame = 0;
          this.fit();
        });
    });
    observer.observe(this.element);
    this.store.add({ dispose: () => (observer.disconnect(), cancelAnimationFrame(frame)) });
  }

  /** Opens xterm in its element; call once the element is visible so that it can be measured. */
  attach(): void {
    this.term.open(this.element);
    this.loadWebgl();
    this.fit();
  }

  /** Connects the view to `session` (a new one after a reconnect); output of the old one stops. */
  bind(session: TerminalSession): void {
    this.binding.dispose();
    this.acks?.dispose();
    this.binding = new DisposableStore();
    this.bound = session;
    this.inputOpen = true;
    const acks = (this.acks = new AckBatcher((bytes) => {
      this.stats.acked += bytes;
      session.ack(bytes);
    }));
    this.binding.add(acks);
    this.binding.add(session.onOutput((bytes) => this.writeOutput(bytes, acks)));
    this.binding.add(
      session.onExit((exit) => {
        this.inputOpen = false;
        this.term.write(`\r\n\x1b[1m[${exitText(exit)}]\x1b[0m\r\n`);
      }),
    );
    this.binding.add(
      session.onError((error) => {
        this.term.write(`\r\n\x1b[1;31m${sessionErrorText(error)}\x1b[0m\r\n`);
        if (error.fatal) this.inputOpen = false;
      }),
    );
    this.binding.add(
      session.onClosed(() => {
        this.inputOpen = false;
      }),
    );
    session.resize(this.term.cols, this.term.rows);
  }

  /**
   * A line from the console itself (not the remote process), e.g. a reconnect notice; `warning`
   * for what the user must not miss (the agent's notices: typing is recorded).
   */
  notice(text: string, tone: 'dim' | 'warning' = 'dim'): void {
    this.notices.push(text);
    if (this.notices.length > 50) this.notices.shift();
    this.term.write(`\r\n${tone === 'warning' ? '\x1b[1;33m' : '\x1b[2m'}${text}\x1b[0m\r\n`);
  }

  get size(): { cols: number; rows: number } {
    return { cols: this.term.cols, rows: this.term.rows };
  }

  setTheme(theme: ThemeName): void {
    this.term.options.theme = TERMINAL_THEMES[theme];
  }

  setFontSize(size: number): void {
    if (this.term.options.fontSize === size) return;
    this.term.options.fontSize = size;
    this.fit();
  }

  setFontFamily(font: TerminalFontId | undefined): void {
    const family = fontFamilyFor(font);
    if (this.term.options.fontFamily === family) return;
    this.term.options.fontFamily = family;
    this.fit();
  }

  /** Fits the terminal to its element; xterm fires onResize, and so the session, only on change. */
  fit(): void {
    if (this.element.offsetParent === null) return;
    this.fitAddon.fit();
  }

  focus(): void {
    this.term.focus();
  }

  /** Sends `text` as a paste (bracketed where the remote program asked), after asking if multi-line. */
  async paste(text: string): Promise<void> {
    if (!text) return;
    const multiLine = /[\r\n]/.test(text.replace(/[\r\n]+$/, ''));
    if (multiLine && !(await this.options.confirmPaste(text))) return;
    this.term.paste(text);
  }

  selection(): string {
    return this.term.getSelection();
  }

  selectAll(): void {
    this.term.selectAll();
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
    this.binding.dispose();
    this.store.dispose();
    this.outputEmitter.dispose();
    this.inputEmitter.dispose();
    this.refusedEmitter.dispose();
    this.resizeEmitter.dispose();
    this.term.dispose();
    this.element.remove();
  }

  /** Input from another terminal (broadcast): sent to this one's session as if typed here, not broadcast again. */
  type(data: string | Uint8Array): void {
    if (!this.inputOpen || !this.bound) return;
    this.bound.write(data);
  }

  private input(data: string | Uint8Array): void {
    if (!this.inputOpen || !this.bound) {
      this.refusedEmitter.fire();
      return;
    }
    this.bound.write(data);
    this.inputEmitter.fire(data);
  }

  private loadWebgl(): void {
    const software = softwareWebglRenderer();
    if (software) {
      // Measured in headless Chromium: SwiftShader's WebGL parsed 0.8 MB/s of output where the DOM
      // renderer parsed 2.8 MB/s, and it blocks the page while it draws. A GPU-less VM or remote
      // desktop gets the same, so software WebGL counts as no WebGL.
      console.info(`[terminal] WebGL is software-rendered (${software}); using the DOM renderer`);
      this.renderer = 'dom';
      return;
    }
    try {
      const webgl = new WebglAddon();
      this.term.loadAddon(webgl);
      this.renderer = 'webgl';
      this.store.add(
        webgl.onContextLoss(() => {
          console.warn('[terminal] WebGL context lost; falling back to the DOM renderer');
          webgl.dispose();
          this.renderer = 'dom';
        }),
      );
    } catch (error) {
      console.info(`[terminal] WebGL renderer unavailable (${String(error)}); using the DOM renderer`);
      this.renderer = 'dom';
    }
  }

  private writeOutput(bytes: Uint8Array, acks: AckBatcher): void {
    this.stats.received += bytes.byteLength;
    this.outputEmitter.fire(bytes);
    if (this.sink === 'count') {
      this.stats.parsed += bytes.byteLength;
      acks.parsed(bytes.byteLength);
      return;
    }
    // Ack only once xterm has parsed the bytes, so a slow renderer slows the agent down.
    this.term.write(bytes, () => {
      this.stats.parsed += bytes.byteLength;
      acks.parsed(bytes.byteLength);
    });
  }
}

let softwareRenderer: string | undefined | null = null;

/** The WebGL renderer's name when it is a software one (SwiftShader, llvmpipe), probed once per page. */
export function softwareWebglRenderer(): string | undefined {
  if (softwareRenderer !== null) return softwareRenderer;
  softwareRenderer = undefined;
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return softwareRenderer;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  if (/swiftshader|llvmpipe|softpipe|software/i.test(name)) softwareRenderer = name;
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return softwareRenderer;
}
