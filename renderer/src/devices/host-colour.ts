/**
 * A colour per host, so that tabs of one host can be told from another's at a glance (the strip,
 * the list of every tab): derived from the agent's id unless the user chose one (the tab menu's
 * "Host colour", kept in the settings as `hostColours`). Ten hues that stay apart from each other
 * and readable on the dark and the light theme.
 */
export const HOST_PALETTE: readonly { name: string; colour: string }[] = [
  { name: 'red', colour: '#e5484d' },
  { name: 'orange', colour: '#f76b15' },
  { name: 'yellow', colour: '#d6a100' },
  { name: 'green', colour: '#46a758' },
  { name: 'teal', colour: '#12a594' },
  { name: 'blue', colour: '#0090ff' },
  { name: 'violet', colour: '#6e56cf' },
  { name: 'pink', colour: '#d6409f' },
  { name: 'lime', colour: '#7cb518' },
  { name: 'brown', colour: '#a18072' },
];

let chosen: Readonly<Record<string, string>> = {};

/** The colours the user chose, by agent id (from the settings). */
export function setChosenHostColours(colours: Readonly<Record<string, string>> | undefined): void {
  chosen = { ...(colours ?? {}) };
}

/** The colour derived from the agent's id: the same on every console and run. */
export function derivedHostColour(agentId: string): string {
  // FNV-1a: stable across runs and consoles, so a host keeps its colour.
  let hash = 0x811c9dc5;
  for (let i = 0; i < agentId.length; i++) {
    hash ^= agentId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return HOST_PALETTE[hash % HOST_PALETTE.length]!.colour;
}

/** The host's colour: the one chosen for it, else the derived one. */
export function hostColour(agentId: string): string {
  return chosen[agentId] ?? derivedHostColour(agentId);
}

/** Whether the user chose the host's colour. */
export function hostColourChosen(agentId: string): boolean {
  return agentId in chosen;
}
