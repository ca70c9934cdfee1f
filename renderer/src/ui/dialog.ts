/** A modal question in the page (not `window.confirm`, which blocks the renderer and Electron's IPC). */
export interface ConfirmOptions {
  title: string;
  message: string;
  /** shown in a scrollable block under the message, e.g. the text about to be pasted */
  detail?: string;
  accept: string;
  cancel?: string;
}

/** Resolves true when the user accepts; Escape, Cancel and a click outside resolve false. */
export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const backdrop = document.createElement('div');
    backdrop.className = 'dialog-backdrop';
    const dialog = document.createElement('div');
    dialog.className = 'dialog';
    dialog.setAttribute('role', 'alertdialog');
    dialog.setAttribute('aria-modal', 'true');
    dialog.dataset.testid = 'confirm-dialog';
    const title = document.createElement('h2');
    title.textContent = options.title;
    const message = document.createElement('p');
    message.textContent = options.message;
    dialog.append(title, message);
    if (options.detail !== undefined) {
      const detail = document.createElement('pre');
      detail.className = 'dialog-detail';
      detail.textContent = options.detail.length > 2000 ? `${options.detail.slice(0, 2000)}\n…` : options.detail;
      dialog.append(detail);
    }
    const buttons = document.createElement('div');
    buttons.className = 'dialog-buttons';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = options.cancel ?? 'Cancel';
    cancel.dataset.testid = 'confirm-cancel';
    const accept = document.createElement('button');
    accept.type = 'button';
    accept.className = 'primary';
    accept.textContent = options.accept;
    accept.dataset.testid = 'confirm-accept';
    buttons.append(cancel, accept);
    dialog.append(buttons);
    backdrop.append(dialog);

    const previousFocus = document.activeElement as HTMLElement | null;
    const finish = (answer: boolean) => {
      document.removeEventListener('keydown', onKey, true);
      backdrop.remove();
      previousFocus?.focus();
      resolve(answer);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') finish(false);
      else if (event.key === 'Enter' && document.activeElement !== cancel) finish(true);
      else return;
      event.preventDefault();
      event.stopPropagation();
    };
    document.addEventListener('keydown', onKey, true);
    cancel.addEventListener('click', () => finish(false));
    accept.addEventListener('click', () => finish(true));
    backdrop.addEventListener('click', (event) => {
      if (event.target === backdrop) finish(false);
    });
    document.body.append(backdrop);
    accept.focus();
  });
}
