/**
 * The handle between the device list and the terminals: dragged (or moved with the arrow keys when
 * focused) it sets the list's width, so that long agent and container names can be read, or the
 * terminals get the room; a double click (or Home) gives back the default. The width is kept in the
 * settings; the terminals fit themselves to their new size (terminal-view.ts).
 */
import { DisposableStore, type Disposable } from '../base/emitter';
import { element } from './dom';

/** The list's width when none was chosen, in CSS pixels, its padding and border included (styles.css `.sidebar`). */
export const DEFAULT_SIDEBAR_WIDTH = 312;
export const MIN_SIDEBAR_WIDTH = 200;
/** At most this share of the window, so that a terminal always keeps room. */
const MAX_SIDEBAR_SHARE = 0.6;
const KEY_STEP = 16;

export class SidebarSash implements Disposable {
  readonly element: HTMLElement;
  private readonly store = new DisposableStore();
  private width: number | undefined;

  /** `onChosen` is told the width once a drag or key press ends (undefined: back to the default). */
  constructor(
    private readonly sidebar: HTMLElement,
    private readonly onChosen: (width: number | undefined) => void,
  ) {
    this.element = element(
      'div',
      { className: 'sidebar-sash', tabIndex: 0, title: 'Drag to resize the device list; double-click for its default width' },
      'sidebar-sash',
    );
    this.element.setAttribute('role', 'separator');
    this.element.setAttribute('aria-orientation', 'vertical');
    this.element.setAttribute('aria-label', 'Device list width');
    this.element.setAttribute('aria-valuemin', String(MIN_SIDEBAR_WIDTH));
    this.store.listen(this.element, 'pointerdown', (event) => this.drag(event as PointerEvent));
    this.store.listen(this.element, 'dblclick', () => this.choose(undefined));
    this.store.listen(this.element, 'keydown', (event) => this.key(event as KeyboardEvent));
    // A smaller window takes the room back from the list, not from the terminals.
    this.store.listen(window, 'resize', () => this.apply());
  }

  /** Shows `width` (the settings' value; undefined: the default) without telling anyone. */
  show(width: number | undefined): void {
    this.width = width;
    this.apply();
  }

  dispose(): void {
    this.store.dispose();
  }

  private get maxWidth(): number {
    return Math.max(MIN_SIDEBAR_WIDTH, Math.floor(window.innerWidth * MAX_SIDEBAR_SHARE));
  }

  private clamp(width: number): number {
    return Math.round(Math.min(this.maxWidth, Math.max(MIN_SIDEBAR_WIDTH, width)));
  }

  private apply(): void {
    const shown = this.clamp(this.width ?? DEFAULT_SIDEBAR_WIDTH);
    this.sidebar.style.width = `${shown}px`;
    this.element.setAttribute('aria-valuenow', String(shown));
    this.element.setAttribute('aria-valuemax', String(this.maxWidth));
  }

  private choose(width: number | undefined): void {
    this.width = width === undefined ? undefined : this.clamp(width);
    this.apply();
    this.onChosen(this.width);
  }

  private drag(down: PointerEvent): void {
    if (down.button !== 0) return;
    down.preventDefault();
    const startX = down.clientX;
    const startWidth = this.sidebar.getBoundingClientRect().width;
    this.element.setPointerCapture(down.pointerId);
    document.documentElement.classList.add('sash-dragging');
    const move = (event: PointerEvent) => {
      this.width = this.clamp(startWidth + event.clientX - startX);
      this.apply();
    };
    const end = () => {
      this.element.removeEventListener('pointermove', move);
      this.element.removeEventListener('pointerup', end);
      this.element.removeEventListener('pointercancel', end);
      document.documentElement.classList.remove('sash-dragging');
      if (this.width !== undefined && Math.round(startWidth) !== this.width) this.onChosen(this.width);
    };
    this.element.addEventListener('pointermove', move);
    this.element.addEventListener('pointerup', end);
    this.element.addEventListener('pointercancel', end);
  }

  private key(event: KeyboardEvent): void {
    const current = this.sidebar.getBoundingClientRect().width;
    if (event.key === 'ArrowLeft') this.choose(current - KEY_STEP);
    else if (event.key === 'ArrowRight') this.choose(current + KEY_STEP);
    else if (event.key === 'Home') this.choose(undefined);
    else return;
    event.preventDefault();
    event.stopPropagation();
  }
}
