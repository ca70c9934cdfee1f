import type { SearchAddon } from '@xterm/addon-search';

/** Find in the scrollback of one terminal: Enter next, Shift+Enter previous, Escape closes. */
export class SearchBar {
  readonly element: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly count: HTMLElement;

  constructor(
    private readonly search: SearchAddon,
    private readonly onClose: () => void,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'search-bar';
    this.element.dataset.testid = 'search-bar';
    this.element.hidden = true;
    this.input = document.createElement('input');
    this.input.type = 'search';
    this.input.placeholder = 'Find in scrollback';
    this.input.dataset.testid = 'search-input';
    this.count = document.createElement('span');
    this.count.className = 'search-count';
    this.count.dataset.testid = 'search-count';
    const button = (text: string, label: string, action: () => void) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = text;
      b.setAttribute('aria-label', label);
      b.addEventListener('click', action);
      return b;
    };
    this.element.append(
      this.input,
      this.count,
      button('↑', 'previous match', () => this.find(-1)),
      button('↓', 'next match', () => this.find(1)),
      button('×', 'close search', () => this.close()),
    );
    this.input.addEventListener('keydown', (event) => {
      event.stopPropagation();
      if (event.key === 'Enter') this.find(event.shiftKey ? -1 : 1);
      else if (event.key === 'Escape') this.close();
    });
    this.input.addEventListener('input', () => this.find(1, true));
    search.onDidChangeResults(({ resultIndex, resultCount }) => {
      this.count.textContent = resultCount === 0 ? 'no match' : `${resultIndex + 1} of ${resultCount}`;
    });
  }

  open(): void {
    this.element.hidden = false;
    this.input.focus();
    this.input.select();
  }

  close(): void {
    this.element.hidden = true;
    this.search.clearDecorations();
    this.onClose();
  }

  private find(direction: 1 | -1, incremental = false): void {
    const term = this.input.value;
    if (!term) {
      this.count.textContent = '';
      this.search.clearDecorations();
      return;
    }
    const options = {
      incremental,
      decorations: {
        matchOverviewRuler: '#d2a03a',
        activeMatchColorOverviewRuler: '#ff9a00',
        matchBackground: '#6b5a1f',
        activeMatchBackground: '#b07d00',
      },
    };
    const found = direction === 1 ? this.search.findNext(term, options) : this.search.findPrevious(term, options);
    if (!found) this.count.textContent = 'no match';
  }
}
