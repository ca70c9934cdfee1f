/**
 * STUN and TURN servers as fields, one row per server (its URLs, and a user name and password for
 * TURN), with Add and Remove: the settings screen and the first run both edit them so, never as JSON.
 */
import { parseIceServerRows, type IceServerRow } from './ice-servers';

export class IceServerFields {
  readonly element: HTMLElement;
  private readonly rows: HTMLElement;

  constructor(servers: readonly RTCIceServer[], testid: string) {
    this.element = document.createElement('div');
    this.element.className = 'ice-fields';
    this.rows = document.createElement('div');
    this.rows.className = 'ice-rows';
    this.rows.dataset.testid = testid;
    const add = document.createElement('button');
    add.type = 'button';
    add.textContent = 'Add a STUN or TURN server';
    add.dataset.testid = `${testid}-add`;
    add.addEventListener('click', () => this.addRow().querySelector('input')?.focus());
    for (const server of servers) this.addRow(server);
    this.element.append(this.rows, add);
  }

  /** The servers in the fields, checked: a problem in words when a row is wrong. */
  read(): ReturnType<typeof parseIceServerRows> {
    const rows = [...this.rows.querySelectorAll<HTMLElement>('.ice-row')].map(
      (row): IceServerRow => ({
        urls: row.querySelector<HTMLInputElement>('[name="urls"]')!.value,
        username: row.querySelector<HTMLInputElement>('[name="username"]')!.value,
        credential: row.querySelector<HTMLInputElement>('[name="credential"]')!.value,
      }),
    );
    return parseIceServerRows(rows);
  }

  private addRow(server?: RTCIceServer): HTMLElement {
    const row = document.createElement('div');
    row.className = 'ice-row';
    const urls = Array.isArray(server?.urls) ? server.urls.join(', ') : (server?.urls ?? '');
    const input = (name: string, placeholder: string, label: string, value: string, type = 'text') => {
      const node = Object.assign(document.createElement('input'), { name, placeholder, value, type, autocomplete: 'off' });
      node.setAttribute('aria-label', label);
      return node;
    };
    const remove = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Remove', className: 'ice-remove' });
    remove.addEventListener('click', () => row.remove());
    row.append(
      input('urls', 'turn:turn.example.com:3478', 'STUN or TURN URLs, separated by commas', urls),
      input('username', 'user name', 'TURN user name', server?.username ?? ''),
      input('credential', 'password', 'TURN password', typeof server?.credential === 'string' ? server.credential : '', 'password'),
      remove,
    );
    this.rows.append(row);
    return row;
  }
}
