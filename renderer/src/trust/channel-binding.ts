/**
 * The data-channel binding on `control` (protocol/README.md, "Connection", steps 4–6): the
 * console's hello carries a nonce; the agent's hello is checked against the paired agent's key
 * over both negotiated certificates' fingerprints and both nonces; the console answers with its
 * own signature (`auth`). A relay that put its own certificate in either DTLS handshake cannot
 * make either signature match.
 */
import { bindingInput, err, ok, protocolError, type AuthMessage, type HelloMessage, type Result } from '@tether/protocol';
import type { ConsoleIdentity } from './console-identity';
import type { PairedAgentRecord } from './trust-store';
import { randomNonce, verifyEcdsa } from './webcrypto';

export interface BindingOptions {
  identity: ConsoleIdentity;
  /** the paired agent, when this console paired with it; else the agent must not require auth */
  paired: PairedAgentRecord | undefined;
  negotiationId: string;
  /**
   * The SHA-256 of the certificate the agent presented in the DTLS handshake, once checked against
   * the pin (remoteDtlsFingerprint): the binding covers the certificates DTLS negotiated, not the
   * SDP's lines, so a relay cannot reuse a signature made over another certificate.
   */
  agentFingerprint(): string | undefined;
}

export class ChannelBinding {
  readonly consoleNonce = randomNonce();

  constructor(private readonly options: BindingOptions) {}

  get required(): boolean {
    return this.options.paired !== undefined;
  }

  /**
   * The `auth` to send after the agent's hello; undefined when none is needed (an unpaired agent
   * that says auth is optional); an error when the agent's hello does not prove its identity.
   */
  async answerHello(hello: HelloMessage): Promise<Result<AuthMessage | undefined>> {
    const { paired, identity, negotiationId } = this.options;
    if (!paired) {
      if (hello.auth === 'required') {
        return err(
          protocolError('NOT_PAIRED', 'this agent accepts paired consoles only: pair this console with it (tether-agent pair on its host)'),
        );
      }
      return ok(undefined);
    }
    const agentFingerprint = this.options.agentFingerprint();
    if (!agentFingerprint || !hello.nonce || !hello.signature) {
      return err(
        protocolError(
          'FINGERPRINT_MISMATCH',
          'the agent did not sign the data-channel binding: this is not the agent you paired with — possible interception',
        ),
      );
    }
    const common = {
      negotiationId,
      agentFingerprint,
      consoleFingerprint: identity.fingerprint,
      agentNonce: hello.nonce,
      consoleNonce: this.consoleNonce,
    };
    const valid = await verifyEcdsa(paired.publicKey, bindingInput({ role: 'agent', ...common }), hello.signature);
    if (!valid) {
      return err(
        protocolError(
          'FINGERPRINT_MISMATCH',
          "the agent's binding signature does not verify: this is not the agent you paired with — possible interception",
        ),
      );
    }
    const signature = await identity.sign(bindingInput({ role: 'console', ...common }));
    return ok({ type: 'auth', consoleId: paired.consoleId, signature });
  }
}
