import { element } from '../ui/dom';

/** A labelled control of the settings screen and the first run, with an optional hint below it. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const wrapper = element('label', { className: 'settings-field' });
  wrapper.append(element('span', { className: 'settings-label', textContent: label }), control);
  if (hint) wrapper.append(element('span', { className: 'settings-hint', textContent: hint }));
  return wrapper;
}
