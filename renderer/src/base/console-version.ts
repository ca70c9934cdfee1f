/** The console's version, sent in `hello`; kept in step with the root package.json. */
export const CONSOLE_VERSION = '0.1.0';
