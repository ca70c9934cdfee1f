/**
 * Saves downloaded bytes through the browser's download path: a Blob, an object URL and a click on
 * an `<a download>`. Chromium keeps a large Blob on disk rather than in memory, and saves it to the
 * download folder (the tests' Playwright takes it as a download). In Electron the same click reaches
 * the session's `will-download`; the console sets no handler there, so Electron asks where to save
 * with its native Save dialog, named as the agent suggested.
 */
export function saveBytes(parts: Uint8Array[], name: string): void {
  const blob = new Blob(parts as Uint8Array<ArrayBuffer>[], { type: 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  anchor.hidden = true;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  // The download has taken the Blob by then; the URL is not needed after the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
