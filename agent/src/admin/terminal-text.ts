/**
 * Text from the state folder (a console's name is whatever that console sent when it enrolled) is
 * printed to the operator's terminal. Printed raw, an escape sequence in it would move the
 * cursor, rewrite earlier lines, retitle the window or worse: control and format characters are
 * shown escaped instead.
 */

/** C0 and C1 controls, DEL, and invisible format characters (bidi overrides, zero-width joiners). */
const UNSAFE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

const escape = (char: string) => {
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
};

/** `text` with every control or format character written as `\xNN` or `\u{NNNN}`. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escape);
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 controls but leaves DEL, the C1 controls (U+009B
 * is CSI on many terminals) and format characters as they are; they become `\uNNNN` escapes, which
 * parse back to the same string.
 */
export function terminalSafeJson(value: unknown): string {
  const unit = (char: string, i: number) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
  // one escape per UTF-16 unit: a format character above U+FFFF becomes its surrogate pair
  // the newlines left in the text are the layout's: JSON.stringify escaped those inside strings
  return JSON.stringify(value, null, 2).replace(UNSAFE, (char) =>
    char === '\n' ? char : Array.from({ length: char.length }, (_, i) => unit(char, i)).join(''),
  );
}
