import type { Disposable } from '../base/emitter';
import type { TransferFacts } from './file-transfer';

export interface TransferRowActions {
  cancel(id: string): void;
  retry(id: string): void;
  dismiss(id: string): void;
}

/** 12.3 MB, 512 KB, 80 B: decimal units, as disks and network rates are counted. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} KB`;
  return `${bytes} B`;
}

const STATE_TEXT: Record<TransferFacts['state'], string> = {
  starting: 'starting',
  running: '',
  verifying: 'checking SHA-256',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
  interrupted: 'interrupted',
};

/** The text under a transfer's bar: bytes of total, rate, and how it ended. */
export function progressText(facts: TransferFacts): string {
  const amount = facts.total === null ? formatBytes(facts.bytes) : `${formatBytes(facts.bytes)} of ${formatBytes(facts.total)}`;
  const rate = facts.state === 'running' && facts.rate > 0 ? ` · ${formatBytes(facts.rate)}/s` : '';
  const state = STATE_TEXT[facts.state];
  return `${amount}${rate}${state ? ` · ${state}` : ''}`;
}

/**
 * The transfers of a tab, over the bottom of its terminal: one row each with its name and
 * direction, a bar, bytes and rate, Cancel while it runs; Retry and the reason when it failed or
 * was interrupted; where the file went when it is done. Redrawn at most once a frame.
 */
export class TransferListView implements Disposable {
  readonly element: HTMLElement;
  private readonly rows = new Map<string, HTMLElement>();
  private frame: number | undefined;
  private latest: TransferFacts[] = [];

  constructor(private readonly actions: TransferRowActions) {
    this.element = document.createElement('div');
    this.element.className = 'transfer-list';
    this.element.dataset.testid = 'transfers';
    this.element.setAttribute('role', 'status');
    this.element.hidden = true;
  }

  /** Shows `transfers` on the next animation frame. */
  show(transfers: TransferFacts[]): void {
    this.latest = transfers;
    this.frame ??= requestAnimationFrame(() => {
      this.frame = undefined;
      this.render(this.latest);
    });
  }

  dispose(): void {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    this.element.remove();
  }

  private render(transfers: TransferFacts[]): void {
    const ids = new Set(transfers.map((t) => t.id));
    for (const [id, row] of this.rows) {
      if (!ids.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    for (const facts of transfers) this.update(this.rows.get(facts.id) ?? this.create(facts), facts);
    this.element.hidden = transfers.length === 0;
  }

  private create(facts: TransferFacts): HTMLElement {
    const row = document.createElement('div');
    row.className = 'transfer';
    row.dataset.testid = 'transfer';
    row.dataset.transferId = facts.id;
    const title = document.createElement('div');
    title.className = 'transfer-title';
    const arrow = document.createElement('span');
    arrow.className = 'transfer-direction';
    arrow.textContent = facts.direction === 'upload' ? '↑' : '↓';
    arrow.title = facts.direction;
    const name = document.createElement('span');
    name.className = 'transfer-name';
    name.textContent = facts.name;
    const button = (label: string, testid: string, action: () => void) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.dataset.testid = testid;
      b.addEventListener('click', action);
      return b;
    };
    title.append(
      arrow,
      name,
      button('Retry', 'transfer-retry', () => this.actions.retry(facts.id)),
      button('Cancel', 'transfer-cancel', () => this.actions.cancel(facts.id)),
      button('×', 'transfer-dismiss', () => this.actions.dismiss(facts.id)),
    );
    const bar = document.createElement('progress');
    bar.className = 'transfer-bar';
    const text = document.createElement('div');
    text.className = 'transfer-text';
    text.dataset.testid = 'transfer-text';
    const detail = document.createElement('div');
    detail.className = 'transfer-detail';
    detail.dataset.testid = 'transfer-detail';
    row.append(title, bar, text, detail);
    this.element.append(row);
    this.rows.set(facts.id, row);
    return row;
  }

  private update(row: HTMLElement, facts: TransferFacts): void {
    row.dataset.state = facts.state;
    const bar = row.querySelector('progress')!;
    if (facts.total !== null && facts.total > 0) {
      bar.max = facts.total;
      bar.value = facts.bytes;
    } else if (facts.state === 'done') {
      bar.max = 1;
      bar.value = 1;
    } else bar.removeAttribute('value');
    row.querySelector('.transfer-text')!.textContent = progressText(facts);
    const live = facts.state === 'starting' || facts.state === 'running' || facts.state === 'verifying';
    (row.querySelector('[data-testid="transfer-cancel"]') as HTMLElement).hidden = !live;
    (row.querySelector('[data-testid="transfer-dismiss"]') as HTMLElement).hidden = live;
    (row.querySelector('[data-testid="transfer-retry"]') as HTMLElement).hidden = facts.state !== 'interrupted' && facts.state !== 'failed';
    const detail = row.querySelector('.transfer-detail')!;
    if (facts.error) detail.textContent = `${facts.error.code}: ${facts.error.message}`;
    else if (facts.state === 'done')
      detail.textContent = facts.direction === 'upload' ? `saved as ${facts.path ?? facts.name}` : `saved ${facts.path ?? facts.name}`;
    else detail.textContent = facts.path ?? '';
    detail.setAttribute('title', facts.sha256 ? `SHA-256 ${facts.sha256}` : '');
  }
}
