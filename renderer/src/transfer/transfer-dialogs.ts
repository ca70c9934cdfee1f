import type { ListingEntry, ListingMessage, Result } from '@tether/protocol';
import type { TransferError } from './file-transfer';

/** A modal in the page with a title, a body and two buttons; `finish` closes it. */
function modal(
  testid: string,
  title: string,
  accept: string,
): {
  dialog: HTMLElement;
  acceptButton: HTMLButtonElement;
  open(onAccept: () => void, onCancel: () => void): () => void;
} {
  const backdrop = document.createElement('div');
  backdrop.className = 'dialog-backdrop';
  const dialog = document.createElement('div');
  dialog.className = 'dialog transfer-dialog';
  dialog.setAttribute('role', 'dialog');
  dialog.setAttribute('aria-modal', 'true');
  dialog.dataset.testid = testid;
  const heading = document.createElement('h2');
  heading.textContent = title;
  dialog.append(heading);
  const buttons = document.createElement('div');
  buttons.className = 'dialog-buttons';
  const cancelButton = document.createElement('button');
  cancelButton.type = 'button';
  cancelButton.textContent = 'Cancel';
  cancelButton.dataset.testid = `${testid}-cancel`;
  const acceptButton = document.createElement('button');
  acceptButton.type = 'button';
  acceptButton.className = 'primary';
  acceptButton.textContent = accept;
  acceptButton.dataset.testid = `${testid}-accept`;
  buttons.append(cancelButton, acceptButton);
  backdrop.append(dialog);
  return {
    dialog,
    acceptButton,
    open(onAccept, onCancel) {
      dialog.append(buttons);
      const previousFocus = document.activeElement as HTMLElement | null;
      const close = () => {
        document.removeEventListener('keydown', onKey, true);
        backdrop.remove();
        previousFocus?.focus();
      };
      const onKey = (event: KeyboardEvent) => {
        if (event.key !== 'Escape') return;
        event.preventDefault();
        event.stopPropagation();
        onCancel();
      };
      document.addEventListener('keydown', onKey, true);
      cancelButton.addEventListener('click', () => onCancel());
      acceptButton.addEventListener('click', () => onAccept());
      backdrop.addEventListener('click', (event) => {
        if (event.target === backdrop) onCancel();
      });
      document.body.append(backdrop);
      return close;
    },
  };
}

function field(labelText: string, input: HTMLElement): HTMLElement {
  const label = document.createElement('label');
  label.className = 'transfer-field';
  const span = document.createElement('span');
  span.textContent = labelText;
  label.append(span, input);
  return label;
}

export interface UploadChoice {
  files: File[];
  /** absent: the shell's working directory */
  dir: string | undefined;
}

/** "Upload…": files to send and the directory they go to (the shell's working directory unless typed). */
export function uploadDialog(target: string, cwd: Promise<string | undefined>): Promise<UploadChoice | undefined> {
  return new Promise((resolve) => {
    const { dialog, acceptButton, open } = modal('upload-dialog', `Upload to ${target}`, 'Upload');
    const files = document.createElement('input');
    files.type = 'file';
    files.multiple = true;
    files.dataset.testid = 'upload-files';
    const dir = document.createElement('input');
    dir.type = 'text';
    dir.dataset.testid = 'upload-dir';
    dir.placeholder = "the shell's working directory";
    dir.spellcheck = false;
    void cwd.then((path) => {
      if (path) dir.placeholder = `${path} (the shell's working directory)`;
    });
    dialog.append(field('Files', files), field('Into directory', dir));
    acceptButton.disabled = true;
    files.addEventListener('change', () => (acceptButton.disabled = (files.files?.length ?? 0) === 0));
    const close = open(
      () => {
        const chosen = Array.from(files.files ?? []);
        if (chosen.length === 0) return;
        close();
        resolve({ files: chosen, dir: dir.value.trim() || undefined });
      },
      () => {
        close();
        resolve(undefined);
      },
    );
    files.focus();
  });
}

export type ListFn = (path: string | undefined, prefix: string) => Promise<Result<ListingMessage, TransferError>>;

/** Splits what was typed into the directory to list (undefined: the working directory) and the name's beginning. */
export function splitTyped(typed: string): { dir: string | undefined; prefix: string } {
  const at = typed.lastIndexOf('/');
  if (at < 0) return { dir: undefined, prefix: typed };
  return { dir: typed.slice(0, at + 1), prefix: typed.slice(at + 1) };
}

/** The longest beginning all `names` share. */
export function commonPrefix(names: string[]): string {
  if (names.length === 0) return '';
  let prefix = names[0]!;
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

/**
 * "Download…": a path, relative to the shell's working directory or absolute, completed from a
 * listing of the directory typed so far (Tab completes, a click on a directory descends); a
 * directory downloads as a tar archive.
 */
export function downloadDialog(target: string, list: ListFn): Promise<string | undefined> {
  return new Promise((resolve) => {
    const { dialog, acceptButton, open } = modal('download-dialog', `Download from ${target}`, 'Download');
    const input = document.createElement('input');
    input.type = 'text';
    input.dataset.testid = 'download-path';
    input.placeholder = "a file or directory (relative to the shell's working directory)";
    input.spellcheck = false;
    input.autocomplete = 'off';
    const where = document.createElement('div');
    where.className = 'transfer-where';
    where.dataset.testid = 'download-where';
    const entries = document.createElement('ul');
    entries.className = 'transfer-entries';
    entries.dataset.testid = 'download-entries';
    dialog.append(field('Path', input), where, entries);
    acceptButton.disabled = true;

    let shown: ListingEntry[] = [];
    let request = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = async () => {
      const typed = input.value;
      const { dir, prefix } = splitTyped(typed);
      const mine = ++request;
      const listed = await list(dir, prefix);
      if (mine !== request) return;
      entries.replaceChildren();
      if (!listed.ok) {
        shown = [];
        where.textContent = `${listed.error.code}: ${listed.error.message}`;
        where.dataset.state = 'error';
        return;
      }
      where.dataset.state = 'ok';
      where.textContent = `${listed.value.path}${listed.value.truncated ? ' (more entries than shown)' : ''}`;
      shown = listed.value.entries;
      for (const entry of shown) {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.testid = 'download-entry';
        button.dataset.name = entry.name;
        button.dataset.kind = entry.kind;
        button.textContent = entry.kind === 'directory' ? `${entry.name}/` : entry.name;
        button.addEventListener('click', () => {
          input.value = `${dir ?? ''}${entry.name}${entry.kind === 'directory' ? '/' : ''}`;
          changed(true);
          input.focus();
        });
        item.append(button);
        entries.append(item);
      }
    };
    const changed = (now = false) => {
      acceptButton.disabled = input.value.trim().length === 0;
      clearTimeout(timer);
      timer = setTimeout(() => void refresh(), now ? 0 : 150);
    };
    input.addEventListener('input', () => changed());
    input.addEventListener('keydown', (event) => {
      event.stopPropagation();
      if (event.key === 'Tab') {
        event.preventDefault();
        const { dir } = splitTyped(input.value);
        const { prefix } = splitTyped(input.value);
        const matching = shown.filter((e) => e.name.startsWith(prefix));
        const common = commonPrefix(matching.map((e) => e.name));
        const only = matching.length === 1 ? matching[0] : undefined;
        if (common.length > prefix.length || only) {
          input.value = `${dir ?? ''}${common}${only?.kind === 'directory' ? '/' : ''}`;
          changed(true);
        }
      } else if (event.key === 'Enter' && !acceptButton.disabled) {
        event.preventDefault();
        accept();
      }
    });
    const accept = () => {
      const path = input.value.trim();
      if (!path) return;
      clearTimeout(timer);
      close();
      resolve(path);
    };
    const close = open(accept, () => {
      clearTimeout(timer);
      close();
      resolve(undefined);
    });
    changed(true);
    input.focus();
  });
}
