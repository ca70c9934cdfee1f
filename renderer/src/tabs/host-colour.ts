/**
 * A colour per host, derived from the agent's id, so that tabs of one host can be told from
 * another's at a glance (the strip, the device list, the overflow menu). Ten hues that stay
 * apart from each other and readable on the dark and the light theme.
 */
const PALETTE = ['#e5484d', '#f76b15', '#d6a100', '#46a758', '#12a594', '#0090ff', '#6e56cf', '#d6409f', '#8d8d8d', '#a18072'];

export function hostColour(agentId: string): string {
  // FNV-1a: stable across runs and consoles, so a host keeps its colour.
  let hash = 0x811c9dc5;
  for (let i = 0; i < agentId.length; i++) {
    hash ^= agentId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return PALETTE[hash % PALETTE.length]!;
}
