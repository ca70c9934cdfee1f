import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonFile } from './trust/state-files.js';

/**
 * What the running agent writes at start (`agent.json` in its state folder), so that `pair` names
 * it as it runs. Its own module: the agent writes it, and must not load the commands (with their
 * QR code renderer) to do so.
 */
export const RunningAgent = z.object({
  agentId: z.string(),
  name: z.string(),
  lanPort: z.number().optional(),
  lanHost: z.string().optional(),
});
export type RunningAgent = z.infer<typeof RunningAgent>;

export const RUNNING_AGENT_FILE = 'agent.json';

export function writeRunningAgent(stateDir: string, info: RunningAgent): void {
  writeJsonFile(join(stateDir, RUNNING_AGENT_FILE), info);
}
