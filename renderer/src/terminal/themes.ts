import type { ITheme } from '@xterm/xterm';

export type ThemeName = 'dark' | 'light';

/** xterm.js colours for each console theme; the page's own colours are CSS variables (styles.css). */
export const TERMINAL_THEMES: Record<ThemeName, ITheme> = {
  dark: {
    background: '#16181d',
    foreground: '#e6e6e6',
    cursor: '#e6e6e6',
    selectionBackground: '#3a4a66',
  },
  light: {
    background: '#fbfbfa',
    foreground: '#1d1f24',
    cursor: '#1d1f24',
    selectionBackground: '#b9cdf0',
    black: '#1d1f24',
    red: '#b3261e',
    green: '#1f7a3a',
    yellow: '#8a6100',
    blue: '#1f5fbf',
    magenta: '#8a3ab9',
    cyan: '#0b7285',
    white: '#6b7280',
    brightBlack: '#4b5563',
    brightWhite: '#111827',
  },
};
