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

/** Asks for a line of text (a workspace's name); resolves undefined on Cancel or Escape. */
export function promptDialog(options: {
  title: string;
  message: string;
  value?: string;
  accept: string;
  testid?: string;
}): Promise<string | undefined> {
  return new Promise((resolve) => {
    const backdrop = document.createElement('div');
    backdrop.className = 'dialog-backdrop';
    const dialog = document.createElement('form');
    dialog.className = 'dialog';
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    dialog.dataset.testid = options.testid ?? 'prompt-dialog';
    const title = document.createElement('h2');
    title.textContent = options.title;
    const label = document.createElement('label');
    label.className = 'dialog-field';
    label.textContent = options.message;
    const input = document.createElement('input');
    input.value = options.value ?? '';
    input.required = true;
    input.dataset.testid = 'prompt-value';
    label.append(input);
    const buttons = document.createElement('div');
    buttons.className = 'dialog-buttons';
    const cancel = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Cancel' });
    cancel.dataset.testid = 'prompt-cancel';
    const accept = Object.assign(document.createElement('button'), { type: 'submit', textContent: options.accept, className: 'primary' });
    accept.dataset.testid = 'prompt-accept';
    buttons.append(cancel, accept);
    dialog.append(title, label, buttons);
    backdrop.append(dialog);
    const previousFocus = document.activeElement as HTMLElement | null;
    const finish = (value: string | undefined) => {
      document.removeEventListener('keydown', onKey, true);
      backdrop.remove();
      previousFocus?.focus();
      resolve(value);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      event.preventDefault();
      event.stopPropagation();
      finish(undefined);
    };
    dialog.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value) finish(value);
    });
    cancel.addEventListener('click', () => finish(undefined));
    document.addEventListener('keydown', onKey, true);
    document.body.append(backdrop);
    input.select();
    input.focus();
  });
}
