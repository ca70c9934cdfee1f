/**
 * The trust of one peer connection (protocol/README.md, "Connection"): the certificate the
 * console presented in the DTLS handshake must be the pinned one, and the data-channel binding
 * must verify. The agent signs both certificates' fingerprints *as DTLS negotiated them*, the
 * negotiation id and both nonces with its identity key in its `hello`; an enrolled console signs
 * the same with its key in `auth`. Until both hold, a peer that must be authenticated is served
 * nothing, and a certificate that is not the pinned one ends the peer before any channel is used.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  bindingInput,
  err,
  fingerprintOf,
  ok,
  protocolError,
  toBase64Url,
  type AuthMessage,
  type HelloMessage,
  type Result,
} from '@tether/protocol';
import { verifyConsoleSignature, type EnrolledConsole } from './consoles.js';
import { signWithIdentity, type AgentKeys } from './identity.js';

/** Why a peer is refused: not the pinned certificate, not (or no longer) paired, no hello at all, or a hello of another protocol. */
export type RefusalCode = 'FINGERPRINT_MISMATCH' | 'NOT_PAIRED' | 'BAD_MESSAGE' | 'UNSUPPORTED_PROTOCOL';

/** How long a console has, once its DTLS certificate checked out, to say hello (and, when it must authenticate, to send a valid `auth`). */
export const AUTH_TIMEOUT_MS = 20_000;

export interface PeerTrustOptions {
  negotiationId: string;
  keys: AgentKeys;
  /** the console's fingerprint from its offer: the pin its DTLS certificate must match */
  consoleFingerprint: string;
  /** the enrolled console that holds that fingerprint, if any */
  console: EnrolledConsole | undefined;
  /** true when this peer must prove it is `console` before anything is served */
  required: boolean;
  /** the console revoked, its DTLS certificate not the pinned one, or the binding failed: the peer ends */
  onRefused(error: { code: RefusalCode; message: string; observed?: string | undefined }): void;
  onAuthenticated(console: EnrolledConsole): void;
}

export class PeerTrust {
  readonly agentNonce = toBase64Url(randomBytes(16));
  private consoleNonce = '';
  /** SHA-256 of the certificate the console presented in the DTLS handshake, once checked */
  private observedConsoleFingerprint: string | undefined;
  private outcome: Result<void> | undefined;
  private readonly waiters: ((outcome: Result<void>) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  private hello = false;

  constructor(private readonly options: PeerTrustOptions) {}

  /**
   * An unpaired peer is authorized by its DTLS certificate and its hello on `control`; a paired one
   * by its binding signature (authenticate), which needs both; either within AUTH_TIMEOUT_MS of its
   * DTLS certificate checking out. Counted from there, not from the offer: before DTLS is up the
   * peer's own connect timeout bounds it (peer.ts), and on a slow, lossy link ICE and DTLS alone
   * took most of 20 s, so consoles were refused while their hello was on its way.
   */
  private startClock(): void {
    if (this.timer || this.outcome) return;
    this.timer = setTimeout(() => {
      if (this.options.required) this.refuse('NOT_PAIRED', 'no valid auth from the console in time');
      else this.refuse('BAD_MESSAGE', 'no hello from the console on control in time');
    }, AUTH_TIMEOUT_MS);
  }

  /** The console said hello on `control`: an unpaired peer whose certificate checked out may be served. */
  helloReceived(): void {
    this.hello = true;
    if (!this.options.required && this.observedConsoleFingerprint) this.settle(ok(undefined));
  }

  /**
   * The console's hello named a protocol this agent does not speak: nothing on this peer can be
   * served, so the peer is refused as a whole (its channels waiting for authorization are told
   * why, and the peer connection ends), as a fatal error on `control` says (protocol/README.md).
   */
  protocolRefused(message: string): void {
    this.refuse('UNSUPPORTED_PROTOCOL', message);
  }

  get required(): boolean {
    return this.options.required;
  }

  /**
   * Checks the certificate the console presented in the DTLS handshake (DER) against the pin.
   * Called once DTLS has a remote certificate, before any data channel is served; a mismatch
   * refuses the peer (FINGERPRINT_MISMATCH). Idempotent for the same certificate.
   */
  checkDtlsCertificate(der: Uint8Array): Result<string> {
    const observed = fingerprintOf(createHash('sha256').update(der).digest());
    if (observed !== this.options.consoleFingerprint) {
      return this.refuse(
        'FINGERPRINT_MISMATCH',
        `the console's DTLS certificate is ${observed}, not the pinned ${this.options.consoleFingerprint}: possible interception`,
        observed,
      );
    }
    this.observedConsoleFingerprint = observed;
    this.startClock();
    if (!this.options.required && this.hello) this.settle(ok(undefined));
    return ok(observed);
  }

  /** True once the DTLS certificate was checked and matched the pin. */
  get dtlsVerified(): boolean {
    return this.observedConsoleFingerprint !== undefined;
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

  /** The binding over the certificates DTLS negotiated: this agent's own, and the console's as presented. */
  private input(role: 'agent' | 'console'): Uint8Array {
    const consoleFingerprint = this.observedConsoleFingerprint;
    // Never reached: channels are served only after checkDtlsCertificate. A binding over the SDP's
    // value instead would be one a relay could reuse for its own certificate.
    if (!consoleFingerprint) throw new Error('the binding needs the DTLS certificate the console presented');
    return bindingInput({
      role,
      negotiationId: this.options.negotiationId,
      agentFingerprint: this.options.keys.fingerprint,
      consoleFingerprint,
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

  private refuse(code: RefusalCode, message: string, observed?: string): Result<never> {
    const error = protocolError(code, message);
    if (this.outcome?.ok !== false) {
      clearTimeout(this.timer);
      this.outcome = err(error); // a mismatch found after an earlier success still refuses
      for (const wake of this.waiters.splice(0)) wake(this.outcome);
      this.options.onRefused({ code, message, observed });
    }
    return err(error);
  }

  private settle(outcome: Result<void>): void {
    if (this.outcome) return;
    this.outcome = outcome;
    clearTimeout(this.timer);
    for (const wake of this.waiters.splice(0)) wake(outcome);
  }

  /** Resolves once the peer is authorized (its DTLS certificate checked, and its binding when required) or refused. */
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
