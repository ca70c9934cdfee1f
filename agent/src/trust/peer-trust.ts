/**
 * The data-channel binding of one peer connection (protocol/README.md, "Data-channel binding"):
 * the agent signs both fingerprints, the negotiation id and both nonces with its identity key in
 * its `hello`; an enrolled console signs the same with its key in `auth`. Until the console's
 * signature checks out, a peer that must be authenticated is served nothing.
 */
import { randomBytes } from 'node:crypto';
import { bindingInput, err, ok, protocolError, toBase64Url, type AuthMessage, type HelloMessage, type Result } from '@tether/protocol';
import { verifyConsoleSignature, type EnrolledConsole } from './consoles.js';
import { signWithIdentity, type AgentKeys } from './identity.js';

/** How long a console that must authenticate has to send a valid `auth`. */
export const AUTH_TIMEOUT_MS = 20_000;

export interface PeerTrustOptions {
  negotiationId: string;
  keys: AgentKeys;
  /** the console's fingerprint from its offer */
  consoleFingerprint: string;
  /** the enrolled console that holds that fingerprint, if any */
  console: EnrolledConsole | undefined;
  /** true when this peer must prove it is `console` before anything is served */
  required: boolean;
  /** the console revoked or the binding failed: the peer ends */
  onRefused(error: { code: 'FINGERPRINT_MISMATCH' | 'NOT_PAIRED'; message: string }): void;
  onAuthenticated(console: EnrolledConsole): void;
}

export class PeerTrust {
  readonly agentNonce = toBase64Url(randomBytes(16));
  private consoleNonce = '';
  private outcome: Result<void> | undefined;
  private readonly waiters: ((outcome: Result<void>) => void)[] = [];
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PeerTrustOptions) {
    if (!options.required) this.outcome = ok(undefined);
    else this.timer = setTimeout(() => this.refuse('NOT_PAIRED', 'no valid auth from the console in time'), AUTH_TIMEOUT_MS);
  }

  get required(): boolean {
    return this.options.required;
  }

  /** The trust fields of the agent's `hello`, in answer to the console's. */
  helloFields(consoleHello: HelloMessage): Pick<HelloMessage, 'nonce' | 'fingerprint' | 'signature' | 'auth'> {
    this.consoleNonce = consoleHello.nonce ?? '';
    const fields: Pick<HelloMessage, 'nonce' | 'fingerprint' | 'signature' | 'auth'> = {
      nonce: this.agentNonce,
      fingerprint: this.options.keys.fingerprint,
      auth: this.options.required ? 'required' : 'optional',
    };
    if (consoleHello.nonce) fields.signature = signWithIdentity(this.options.keys, this.input('agent'));
    return fields;
  }

  private input(role: 'agent' | 'console'): Uint8Array {
    return bindingInput({
      role,
      negotiationId: this.options.negotiationId,
      agentFingerprint: this.options.keys.fingerprint,
      consoleFingerprint: this.options.consoleFingerprint,
      agentNonce: this.agentNonce,
      consoleNonce: this.consoleNonce,
    });
  }

  /** Checks the console's `auth`; the enrolled console on success. */
  authenticate(message: AuthMessage): Result<EnrolledConsole> {
    const enrolled = this.options.console;
    if (!enrolled) {
      return this.refuse('NOT_PAIRED', 'this console is not enrolled with the agent');
    }
    if (!verifyConsoleSignature(enrolled.publicKey, this.input('console'), message.signature)) {
      return this.refuse('FINGERPRINT_MISMATCH', 'the binding signature does not match the fingerprints this agent negotiated');
    }
    this.settle(ok(undefined));
    this.options.onAuthenticated(enrolled);
    return ok(enrolled);
  }

  private refuse(code: 'FINGERPRINT_MISMATCH' | 'NOT_PAIRED', message: string): Result<never> {
    const error = protocolError(code, message);
    if (!this.outcome) {
      this.settle(err(error));
      this.options.onRefused({ code, message });
    }
    return err(error);
  }

  private settle(outcome: Result<void>): void {
    if (this.outcome) return;
    this.outcome = outcome;
    clearTimeout(this.timer);
    for (const wake of this.waiters.splice(0)) wake(outcome);
  }

  /** Resolves once the peer is authorized (at once when not required) or refused. */
  authorized(): Promise<Result<void>> {
    if (this.outcome) return Promise.resolve(this.outcome);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** True when the peer may be served now. */
  get isAuthorized(): boolean {
    return this.outcome?.ok === true;
  }

  dispose(): void {
    this.settle(err(protocolError('NOT_PAIRED', 'the peer connection ended before authentication')));
  }
}
