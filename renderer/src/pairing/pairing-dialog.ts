/**
 * "Pair an agent": a dialog with a field for the token that `tether-agent pair` printed, and a
 * button that reads its QR code with the camera. Pairing itself is `pair(text)`; its outcome, or
 * the agent's refusal explained in words, is shown in the dialog.
 */
import type { ProtocolError, Result } from '@tether/protocol';
import { QrScanner } from './qr-scanner';
import { describePairingError } from './pairing';

export interface PairingDialogOptions {
  /** pairs with the token; resolves with the agent's name */
  pair(text: string): Promise<Result<{ name: string }, ProtocolError>>;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, testid?: string): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  if (testid) (node as HTMLElement).dataset.testid = testid;
  return node;
}

/** Opens the dialog; resolves when it closes. */
export function openPairingDialog(options: PairingDialogOptions): Promise<void> {
  return new Promise((resolve) => {
    const backdrop = element('div', { className: 'dialog-backdrop' });
    const dialog = element('form', { className: 'dialog pairing-dialog' }, 'pairing-dialog');
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    const title = element('h2', { textContent: 'Pair an agent' });
    const help = element('p', { textContent: 'On the agent\'s host, run `tether-agent pair`. Paste the token it prints, or scan its QR code. Pairing needs no internet: the console talks to the agent over the LAN.' });
    const label = element('label', { textContent: 'Pairing token' });
    const field = element('textarea', { rows: 3, spellcheck: false, placeholder: 'tether1:…' }, 'pairing-token');
    label.append(field);
    const video = element('video', { className: 'pairing-camera', hidden: true }, 'pairing-camera');
    const status = element('p', { className: 'pairing-status' }, 'pairing-status');
    status.setAttribute('role', 'status');
    const scan = element('button', { type: 'button', textContent: 'Scan QR code' }, 'pairing-scan');
    const cancel = element('button', { type: 'button', textContent: 'Close' }, 'pairing-cancel');
    const submit = element('button', { type: 'submit', className: 'primary', textContent: 'Pair' }, 'pairing-submit');
    const buttons = element('div', { className: 'dialog-buttons' });
    buttons.append(scan, cancel, submit);
    dialog.append(title, help, label, video, status, buttons);
    backdrop.append(dialog);

    let scanner: QrScanner | undefined;
    let busy = false;
    const stopCamera = () => {
      scanner?.dispose();
      scanner = undefined;
      video.hidden = true;
      scan.textContent = 'Scan QR code';
    };
    const show = (text: string, kind: 'info' | 'error' | 'ok', code?: string) => {
      status.textContent = text;
      status.dataset.kind = kind;
      status.dataset.code = code ?? '';
    };
    const close = () => {
      stopCamera();
      document.removeEventListener('keydown', onKey, true);
      backdrop.remove();
      resolve();
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      event.preventDefault();
      event.stopPropagation();
      close();
    };
    const pair = async (text: string) => {
      if (busy) return;
      busy = true;
      submit.disabled = true;
      show('Pairing…', 'info');
      const result = await options.pair(text);
      busy = false;
      submit.disabled = false;
      if (result.ok) show(`Paired with ${result.value.name}.`, 'ok');
      else show(describePairingError(result.error), 'error', result.error.code);
    };
    scan.addEventListener('click', () => {
      if (scanner) return stopCamera();
      show('Starting the camera…', 'info');
      void QrScanner.start(video, (text) => {
        stopCamera();
        field.value = text;
        void pair(text);
      }).then((started) => {
        if (!started.ok) return show(started.error.message, 'error', started.error.code);
        scanner = started.value;
        video.hidden = false;
        scan.textContent = 'Stop camera';
        show('Hold the QR code in front of the camera…', 'info');
      });
    });
    cancel.addEventListener('click', close);
    dialog.addEventListener('submit', (event) => {
      event.preventDefault();
      stopCamera();
      void pair(field.value);
    });
    document.addEventListener('keydown', onKey, true);
    document.body.append(backdrop);
    field.focus();
  });
}
