/**
 * What the agent allows in the way of file transfers, per container: none, downloads only, or both,
 * and up to what size. The agent's flags give the default, its config file's `transferRules` a
 * rule per container name (which wins), and a container's `tether.transfers` label may only make
 * its own rule stricter: whoever starts a container must not be able to open what the operator of
 * the agent closed.
 */
import type { TransferAllowance } from '@tether/protocol';

export type TransferMode = 'off' | 'download' | 'both';

export const TRANSFER_MODES = ['off', 'download', 'both'] as const satisfies readonly TransferMode[];

/** The container label that can restrict transfers in that container: `off` or `download`. */
export const TRANSFERS_LABEL = 'tether.transfers';

/** The default size limit: 1 GiB. */
export const DEFAULT_TRANSFER_MAX_BYTES = 1024 * 1024 * 1024;

export interface TransferRule {
  mode?: TransferMode | undefined;
  /** bytes; 0: no limit */
  maxBytes?: number | undefined;
}

export interface TransferRulesConfig {
  mode: TransferMode;
  /** bytes; 0: no limit */
  maxBytes: number;
  /** per container name; wins over the default and the label */
  containers: Record<string, TransferRule>;
}

const strictness: Record<TransferMode, number> = { both: 0, download: 1, off: 2 };

export class TransferRules {
  constructor(readonly config: TransferRulesConfig) {}

  /** What a session in the container named `containerName` (with `labels`) may transfer. */
  allowanceFor(containerName: string, labels: Record<string, string> | undefined): TransferAllowance & { mode: TransferMode } {
    const rule = this.config.containers[containerName];
    let mode = rule?.mode ?? this.config.mode;
    const label = labels?.[TRANSFERS_LABEL];
    if (rule?.mode === undefined && isMode(label) && strictness[label] > strictness[mode]) mode = label;
    return { mode, upload: mode === 'both', download: mode !== 'off', maxBytes: rule?.maxBytes ?? this.config.maxBytes };
  }
}

function isMode(value: string | undefined): value is TransferMode {
  return value !== undefined && (TRANSFER_MODES as readonly string[]).includes(value);
}

/** `1048576`, `512K`, `500M`, `2G` (binary units) in bytes; the text itself when malformed, for the schema to report. */
export function byteSize(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)([KMG])?i?B?$/i.exec(text.trim());
  if (!match) return text;
  const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(match[2]?.toUpperCase() ?? '') as 'K' | 'M' | 'G'] ?? 1;
  return Number(match[1]) * unit;
}
