/**
 * The terminal's fonts: two monospace fonts bundled with the console (Fontsource packages, loaded
 * from the app itself, no network), or the system's. Each is followed by the same fallback chain:
 * DejaVu Mono for box drawing and the rest of Unicode that the chosen font lacks (Fontsource's
 * JetBrains Mono ships Latin, Greek and Cyrillic only), then Noto CJK for Chinese, Japanese and
 * Korean and Noto Color Emoji (system fonts: Debian's fonts-noto-cjk and fonts-noto-color-emoji).
 */
// The faces themselves are imported by main.ts (their CSS and files are the page's, not this module's).

export type TerminalFontId = 'jetbrains-mono' | 'dejavu-mono' | 'system';

export const TERMINAL_FONTS: readonly { id: TerminalFontId; label: string; family: string }[] = [
  { id: 'jetbrains-mono', label: 'JetBrains Mono', family: '"JetBrains Mono"' },
  { id: 'dejavu-mono', label: 'DejaVu Mono', family: '"DejaVu Mono"' },
  { id: 'system', label: 'System monospace', family: 'ui-monospace, "DejaVu Sans Mono"' },
];

const FALLBACK = '"DejaVu Mono", "Noto Sans Mono CJK JP", "Noto Sans CJK JP", "Noto Color Emoji", monospace';

/**
 * Row height as a multiple of the font size. At 1.0 the DOM renderer's rows are the font's own
 * height, and an underscore, which sits at the bottom of the descent, was cut off at 14 px
 * (`MOTOR_SPEED_SP` read as `MOTOR SPEED SP`); 1.2 leaves it room in every bundled font and size.
 */
export const TERMINAL_LINE_HEIGHT = 1.2;

export function fontFamilyFor(id: TerminalFontId | undefined): string {
  const font = TERMINAL_FONTS.find((f) => f.id === id) ?? TERMINAL_FONTS[0]!;
  return `${font.family}, ${FALLBACK}`;
}

/**
 * Loads the font's faces before a terminal measures its cells: xterm.js measures once, and a
 * font that arrives later leaves the cells sized for the fallback.
 */
export async function loadTerminalFont(id: TerminalFontId | undefined, size: number): Promise<void> {
  const family = fontFamilyFor(id);
  try {
    await Promise.all([document.fonts.load(`${size}px ${family}`, 'A_█'), document.fonts.load(`bold ${size}px ${family}`, 'A_█')]);
  } catch (error) {
    console.warn(`[terminal] font ${id ?? 'default'} not loaded: ${String(error)}`);
  }
}
