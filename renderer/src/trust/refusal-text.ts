import type { ProtocolError } from '@tether/protocol';

/** The sentence the console shows when a trust check fails, on either side; the detail follows it. */
export function refusalText(code: ProtocolError['code'], detail: string): string {
  switch (code) {
    case 'FINGERPRINT_MISMATCH':
      return `fingerprint mismatch: this is not the agent you paired with — possible interception (${detail})`;
    case 'NOT_PAIRED':
      return `not paired: this console is not (or no longer) paired with the agent — it may have been revoked there; pair again with a new token from "tether-agent pair" (${detail})`;
    case 'RATE_LIMITED':
      return `the agent refuses for now after too many failed attempts; wait a minute (${detail})`;
    default:
      return detail;
  }
}
