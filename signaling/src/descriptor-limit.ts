import { readFileSync } from 'node:fs';

/**
 * Descriptors a node keeps for itself beyond its clients: its listening socket, Redis, the log,
 * health checks and the handshakes being refused. One client costs one descriptor (WebSocket only).
 */
export const RESERVED_DESCRIPTORS = 64;

export interface DescriptorLimit {
  /** the process's limit on open files (Node raises the soft limit to the hard one at start) */
  soft: number;
  hard: number;
  /** the clients this node takes before it refuses more: the soft limit less RESERVED_DESCRIPTORS */
  maxClients: number;
}

/**
 * Reads the limit on open files from /proc/self/limits (Linux). Elsewhere, or when the file cannot
 * be read, undefined: the node then puts no cap of its own on clients.
 */
export function readDescriptorLimit(path = '/proc/self/limits'): DescriptorLimit | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!match) return undefined;
  const value = (field: string) => (field === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(field));
  const soft = value(match[1]!);
  return { soft, hard: value(match[2]!), maxClients: Math.max(1, soft - RESERVED_DESCRIPTORS) };
}
