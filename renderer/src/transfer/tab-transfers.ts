import type { ListingMessage, Result } from '@tether/protocol';
import { confirmDialog } from '../ui/dialog';
import { DisposableStore, type Disposable } from '../base/emitter';
import { Download } from './download';
import type { FileTransfer, TransferError, TransferFacts } from './file-transfer';
import { listDirectory } from './listing';
import type { MenuItem } from '../ui/popup-menu';
import { downloadDialog, uploadDialog } from './transfer-dialogs';
import { TransferListView } from './transfer-list-view';
import { Upload } from './upload';

/** What a tab's transfers need of its session and connection, while it has a live one. */
export interface TransferContext {
  sessionId: string;
  /** a new `file:<id>` channel on the tab's peer connection */
  openChannel(id: string): RTCDataChannel;
  /** false when the agent's `hello` did not offer file transfers (an older agent) */
  supported: boolean;
}

/**
 * The file transfers of one terminal tab: files dropped on it or chosen with "Upload…" go to the
 * shell's working directory (or the directory typed), asking before one replaces an existing name;
 * "Download…" saves a file, or a directory as a tar archive, through the browser's download path.
 * Each transfer has its own channel and a row in the tab's progress list; several run at once.
 */
export class TabTransfers implements Disposable {
  private readonly transfers: FileTransfer[] = [];
  private readonly view: TransferListView;
  private readonly store = new DisposableStore();

  constructor(
    private readonly body: HTMLElement,
    /** the tab's target, for the dialogs' titles */
    private readonly target: string,
    private readonly context: () => TransferContext | undefined,
  ) {
    this.view = new TransferListView({
      cancel: (id) => this.find(id)?.cancel(),
      retry: (id) => this.retry(id),
      dismiss: (id) => this.dismiss(id),
    });
    body.append(this.view.element);
    this.listenForDrops();
  }

  /** Why transfers cannot start now; undefined when they can. */
  get unavailable(): string | undefined {
    const context = this.context();
    if (!context) return 'the terminal is not open';
    if (!context.supported) return 'this agent does not move files (update it)';
    return undefined;
  }

  /** The items the tab's menu shows for transfers. */
  menuItems(): MenuItem[] {
    const why = this.unavailable;
    const state = why ? { disabled: true, title: why } : {};
    return [
      { label: 'Upload…', testid: 'menu-upload', ...state, action: () => void this.openUploadDialog() },
      { label: 'Download…', testid: 'menu-download', ...state, action: () => void this.openDownloadDialog() },
    ];
  }

  /** Every transfer of the tab, finished ones until dismissed. */
  list(): TransferFacts[] {
    return this.transfers.map((t) => t.facts);
  }

  async openUploadDialog(): Promise<void> {
    const cwd = this.listing(undefined, '\0').then((r) => (r.ok ? r.value.cwd : undefined));
    const choice = await uploadDialog(this.target, cwd);
    if (choice) await this.uploadFiles(choice.files, choice.dir);
  }

  async openDownloadDialog(): Promise<void> {
    const path = await downloadDialog(this.target, (dir, prefix) => this.listing(dir, prefix));
    if (path) this.download(path);
  }

  /** Uploads `files` at once, each asking before it replaces an existing name. */
  async uploadFiles(files: File[], dir: string | undefined): Promise<void> {
    await Promise.all(files.map((file) => this.upload(file, dir, false)));
  }

  download(path: string): Download | undefined {
    const context = this.ready();
    if (!context) return undefined;
    const download = new Download({ sessionId: context.sessionId, path });
    this.run(download, context);
    return download;
  }

  dispose(): void {
    for (const transfer of this.transfers) transfer.dispose();
    this.transfers.length = 0;
    this.store.dispose();
    this.view.dispose();
  }

  private async upload(file: File, dir: string | undefined, overwrite: boolean, replacing?: FileTransfer): Promise<void> {
    const context = this.ready();
    if (!context) return;
    const upload = new Upload(file, { sessionId: context.sessionId, dir, name: file.name, overwrite });
    this.run(upload, context, replacing);
    const state = await upload.finished;
    if (state !== 'failed' || upload.error?.code !== 'FILE_EXISTS') return;
    const replace = await confirmDialog({
      title: `Replace ${file.name}?`,
      message: `${upload.error.message.replace(/\.$/, '')} in ${this.target}. Replace it with the file you chose (${file.size} bytes)?`,
      accept: 'Replace',
      cancel: 'Keep the existing file',
    });
    if (replace) await this.upload(file, dir, true, upload);
  }

  private ready(): TransferContext | undefined {
    const context = this.context();
    const why = this.unavailable;
    if (!context || why) {
      console.warn(`[transfers ${this.target}] not started: ${why ?? 'no session'}`);
      return undefined;
    }
    return context;
  }

  /** Starts `transfer` in a row of its own, or in the row of the transfer it `replaces` (a retry). */
  private run(transfer: FileTransfer, context: TransferContext, replaces?: FileTransfer): void {
    const at = replaces ? this.transfers.indexOf(replaces) : -1;
    if (at >= 0) {
      this.transfers.splice(at, 1, transfer);
      replaces?.dispose();
    } else this.transfers.push(transfer);
    transfer.onChange(() => this.render());
    transfer.start((id) => context.openChannel(id));
    this.render();
  }

  private retry(id: string): void {
    const old = this.find(id);
    const context = this.ready();
    if (!old || !context || !old.isFinished) return;
    if (old instanceof Upload) {
      void this.upload(old.file, old.request.dir, old.request.overwrite, old);
    } else if (old instanceof Download) {
      this.run(new Download({ ...old.request, sessionId: context.sessionId }), context, old);
    }
  }

  private dismiss(id: string): void {
    const transfer = this.find(id);
    if (!transfer) return;
    this.transfers.splice(this.transfers.indexOf(transfer), 1);
    transfer.dispose();
    this.render();
  }

  private find(id: string): FileTransfer | undefined {
    return this.transfers.find((t) => t.id === id);
  }

  private render(): void {
    this.view.show(this.list());
  }

  private listing(dir: string | undefined, prefix: string): Promise<Result<ListingMessage, TransferError>> {
    const context = this.context();
    if (!context) return Promise.resolve({ ok: false, error: { code: 'CHANNEL_CLOSED', message: this.unavailable ?? 'no session' } });
    return listDirectory((id) => context.openChannel(id), { sessionId: context.sessionId, path: dir, prefix });
  }

  /** Files dragged over the terminal show a drop frame; dropped, they upload to the working directory. */
  private listenForDrops(): void {
    const carriesFiles = (event: Event) => (event as DragEvent).dataTransfer?.types.includes('Files') === true;
    this.store.listen(this.body, 'dragover', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      (event as DragEvent).dataTransfer!.dropEffect = this.unavailable ? 'none' : 'copy';
      this.body.classList.add('drop-target');
    });
    this.store.listen(this.body, 'dragleave', () => this.body.classList.remove('drop-target'));
    this.store.listen(this.body, 'drop', (event) => {
      this.body.classList.remove('drop-target');
      if (!carriesFiles(event)) return;
      event.preventDefault();
      const files = Array.from((event as DragEvent).dataTransfer?.files ?? []);
      if (files.length > 0) void this.uploadFiles(files, undefined);
    });
  }
}

/**
 * Files dropped anywhere but on a terminal are refused: a browser would otherwise open the file in
 * place of the console, and every terminal with it. Drops a tab took are left alone.
 */
export function refuseStrayDrops(target: Window): Disposable {
  const store = new DisposableStore();
  const refuse = (event: Event) => {
    const drag = event as DragEvent;
    if (event.defaultPrevented || !drag.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    drag.dataTransfer.dropEffect = 'none';
  };
  store.listen(target, 'dragover', refuse);
  store.listen(target, 'drop', refuse);
  return store;
}
