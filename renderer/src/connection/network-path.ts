/** How a peer connection reaches the agent, read from `getStats()`: direct or relayed, and the RTT. */
export interface NetworkPath {
  /** `relayed` when either end of the selected candidate pair is a TURN relay candidate */
  kind: 'direct' | 'relayed';
  /** the selected pair's current round-trip time, when Chromium has measured one */
  rttMs: number | undefined;
  localType: string | undefined;
  remoteType: string | undefined;
}

interface StatsEntry {
  type: string;
  id: string;
  [key: string]: unknown;
}

/** The selected candidate pair's path, or undefined while no pair is selected. */
export async function readNetworkPath(pc: RTCPeerConnection): Promise<NetworkPath | undefined> {
  const report = await pc.getStats();
  const entries = new Map<string, StatsEntry>();
  report.forEach((entry: StatsEntry) => entries.set(entry.id, entry));
  let pair: StatsEntry | undefined;
  for (const entry of entries.values()) {
    if (entry.type === 'transport' && typeof entry.selectedCandidatePairId === 'string') {
      pair = entries.get(entry.selectedCandidatePairId);
    }
  }
  // Older reports mark the pair itself instead of naming it from the transport.
  pair ??= [...entries.values()].find((e) => e.type === 'candidate-pair' && e.selected === true && e.state === 'succeeded');
  if (!pair) return undefined;
  const local = entries.get(String(pair.localCandidateId));
  const remote = entries.get(String(pair.remoteCandidateId));
  const localType = typeof local?.candidateType === 'string' ? local.candidateType : undefined;
  const remoteType = typeof remote?.candidateType === 'string' ? remote.candidateType : undefined;
  const rtt = pair.currentRoundTripTime;
  return {
    kind: localType === 'relay' || remoteType === 'relay' ? 'relayed' : 'direct',
    rttMs: typeof rtt === 'number' ? rtt * 1000 : undefined,
    localType,
    remoteType,
  };
}
