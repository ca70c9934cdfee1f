/**
 * The pre-authentication memory attack for `npm run bench` (issue 11, docs/hardening.md): 400 raw
 * WebSockets against a `tether-signaling` node (the built CLI, as deployed), each sending a
 * Socket.IO binary event's header and nine 64,000-byte attachments and never a CONNECT. The figure
 * is the node's RSS growth: its peak while the attack runs, and once every transport is closed.
 */
import { readFileSync } from 'node:fs';
import { attack, endAttack } from '../harness/pre-auth-attack.js';
import { startSignalingNode } from '../harness/signaling-node.js';
import { round } from './stats.js';

export const PRE_AUTH_TRANSPORTS = 400;

export interface PreAuthFigures {
  /** the node's largest RSS growth over its idle baseline while the transports attacked */
  preAuthAttackRssPeakGrowthMB: number;
  /** its RSS growth once every attacking transport was closed */
  preAuthAttackRssGrowthMB: number;
  /** transports the node ended by its inbound bound (the rest were refused at the upgrade) */
  preAuthAttackEnded: number;
  preAuthAttackTransports: number;
}

function rssMB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

export async function measurePreAuthMemory(): Promise<PreAuthFigures> {
  const node = await startSignalingNode('pre-auth', {
    TETHER_SIGNALING_CONSOLE_TOKENS: 'bench-console-0123456789',
    TETHER_SIGNALING_AGENT_TOKENS: 'bench-agent-0123456789',
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000)); // past its start-up allocations
    const baseline = rssMB(node.pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMB(node.pid))), 50);
    const transports = await attack(node.url, PRE_AUTH_TRANSPORTS);
    try {
      await Promise.all(transports.map(({ closed }) => closed));
    } finally {
      clearInterval(sampler);
      endAttack(transports);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the node's close handling
    const after = rssMB(node.pid);
    return {
      preAuthAttackRssPeakGrowthMB: round(Math.max(peak, after) - baseline, 1),
      preAuthAttackRssGrowthMB: round(after - baseline, 1),
      preAuthAttackEnded: node.logs().filter((line) => line.includes('"msg":"transport ended: it sent what the server does not hold"'))
        .length,
      preAuthAttackTransports: PRE_AUTH_TRANSPORTS,
    };
  } finally {
    await node.kill();
  }
}
