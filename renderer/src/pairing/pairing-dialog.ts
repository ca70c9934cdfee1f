/**
 * "Pair an agent": a dialog with a field for the token that `tether-agent pair` printed, and a
 * button that reads its QR code with the camera. Pairing itself is `pair(text)`; on success the
 * dialog closes and resolves with the new agent (the caller selects it); a refusal is explained
 * in the dialog in one sentence, with the code and the agent's words as details on demand.
 */
import type { ProtocolError, Result } from '@tether/protocol';
import { QrScanner } from './qr-scanner';
import { describePairingError } from './pairing';
import { element } from '../ui/dom';

export interface PairingDialogOptions {
  /** pairs with the token; resolves with the agent's name and id */
  pair(text: string): Promise<Result<PairedAgentSummary, ProtocolError>>;
}

export interface PairedAgentSummary {
  name: string;
  agentId: string;
}

/** Opens the dialog; resolves when it closes: with the agent paired, or undefined when closed without one. */
export function openPairingDialog(options: PairingDialogOptions): Promise<PairedAgentSummary | undefined> {
  return new Promise((resolve) => {
    const backdrop = element('div', { className: 'dialog-backdrop' });
    const dialog = element('form', { className: 'dialog pairing-dialog' }, 'pairing-dialog');
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    const title = element('h2', { textContent: 'Pair an agent' });
    const help = element('p', {
      textContent:
        'On the agent\'s host, run "tether-agent pair". Paste the token it prints, or scan its QR code. Pairing needs no internet: the console talks to the agent over the LAN.',
    });
    const label = element('label', { textContent: 'Pairing token' });
    const field = element('textarea', { rows: 3, spellcheck: false, placeholder: 'tether2:…' }, 'pairing-token');
    label.append(field);
    const video = element('video', { className: 'pairing-camera', hidden: true }, 'pairing-camera');
    const status = element('p', { className: 'pairing-status' }, 'pairing-status');
    status.setAttribute('role', 'status');
    const details = element('details', { className: 'pairing-details', hidden: true }, 'pairing-details');
    const detailText = element('p', {}, 'pairing-detail');
    details.append(element('summary', { textContent: 'Details' }), detailText);
    const scan = element('button', { type: 'button', textContent: 'Scan QR code' }, 'pairing-scan');
    const cancel = element('button', { type: 'button', textContent: 'Close' }, 'pairing-cancel');
    const submit = element('button', { type: 'submit', className: 'primary', textContent: 'Pair' }, 'pairing-submit');
    const buttons = element('div', { className: 'dialog-buttons' });
    buttons.append(scan, cancel, submit);
    dialog.append(title, help, label, video, status, details, buttons);
    backdrop.append(dialog);

    let scanner: QrScanner | undefined;
    let busy = false;
    const stopCamera = () => {
      scanner?.dispose();
      scanner = undefined;
      video.hidden = true;
      scan.textContent = 'Scan QR code';
    };
    const show = (text: string, kind: 'info' | 'error' | 'ok', code?: string, detail?: string) => {
      status.textContent = text;
      status.dataset.kind = kind;
      status.dataset.code = code ?? '';
      detailText.textContent = detail ?? '';
      details.hidden = !detail;
    };
    const close = (paired?: PairedAgentSummary) => {
      stopCamera();
      document.removeEventListener('keydown', onKey, true);
      backdrop.remove();
      resolve(paired);
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
      if (result.ok) return close(result.value);
      const { summary, detail } = describePairingError(result.error);
      show(summary, 'error', result.error.code, detail);
    };
    scan.addEventListener('click', () => {
      if (scanner) return stopCamera();
      show('Starting the camera…', 'info');
      void QrScanner.start(video, (text) => {
        stopCamera();
        field.value = text;
        void pair(text);
      }).then((started) => {
        if (!started.ok) return show(started.error.message, 'error', started.error.code, `${started.error.code}: ${started.error.message}`);
        scanner = started.value;
        video.hidden = false;
        scan.textContent = 'Stop camera';
        show('Hold the QR code in front of the camera…', 'info');
      });
    });
    cancel.addEventListener('click', () => close());
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
