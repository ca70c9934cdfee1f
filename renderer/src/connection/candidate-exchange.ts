import type { Ice, IceCandidate } from '@tether/protocol';
import type { DisposableStore } from '../base/emitter';
import type { NegotiationTransport } from './negotiation-transport';

/**
 * Trickle ICE for one negotiation, both ways through signaling. The browser's candidates wait
 * until the offer was acknowledged, because the server learns the negotiation from the offer; the
 * agent's wait for its answer, because the browser refuses candidates before a remote description.
 */
export class CandidateExchange {
  private offerSent = false;
  private readonly pendingLocal: (IceCandidate | null)[] = [];
  private readonly pendingRemote: IceCandidate[] = [];

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly signaling: NegotiationTransport,
    private readonly negotiationId: string,
    /** how log lines name the agent */
    private readonly agentId: string,
    store: DisposableStore,
  ) {
    store.listen(pc, 'icecandidate', (event) => {
      const candidate = (event as RTCPeerConnectionIceEvent).candidate;
      this.sendLocal(
        candidate && candidate.candidate
          ? {
              candidate: candidate.candidate,
              sdpMid: candidate.sdpMid,
              sdpMLineIndex: candidate.sdpMLineIndex,
              usernameFragment: candidate.usernameFragment,
            }
          : null,
      );
    });
  }

  /** The signaling server acknowledged the offer: the candidates gathered so far go now. */
  offerAcknowledged(): void {
    this.offerSent = true;
    for (const candidate of this.pendingLocal.splice(0)) this.sendLocal(candidate);
  }

  /** The agent's answer is the remote description: the candidates that came before it are added. */
  answerApplied(): void {
    for (const candidate of this.pendingRemote.splice(0)) void this.add(candidate);
  }

  /** A candidate from the agent; `null` ends its gathering, and ICE goes on with what it has. */
  fromAgent(msg: Ice): void {
    if (msg.candidate === null) return;
    if (!this.pc.remoteDescription) this.pendingRemote.push(msg.candidate);
    else void this.add(msg.candidate);
  }

  private async add(candidate: IceCandidate): Promise<void> {
    try {
      await this.pc.addIceCandidate({
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
        usernameFragment: candidate.usernameFragment ?? null,
      });
    } catch (error) {
      console.warn(`[agent ${this.agentId}] remote candidate refused: ${String(error)} (${candidate.candidate})`);
    }
  }

  private sendLocal(candidate: IceCandidate | null): void {
    if (!this.offerSent) {
      this.pendingLocal.push(candidate);
      return;
    }
    void this.signaling.sendIce({ sessionId: this.negotiationId, candidate }).then((result) => {
      if (!result.ok) console.warn(`[agent ${this.agentId}] candidate not relayed: ${result.error.code} ${result.error.message}`);
    });
  }
}
