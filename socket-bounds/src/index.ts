/**
 * Bounds for a Node Socket.IO server, shared by `tether-signaling` and the agent's LAN endpoint
 * (README.md): how many connections one address may hold, how much a connection that does not
 * read may have queued, and what a client may make it hold before it authenticates. Each server
 * passes its own logger, numbers and words. Also their JSON log lines, bounded on their way to
 * stdout, and an exit that waits for stdout to take the last of them.
 */
export { ConnectionsPerAddress, type ConnectionsPerAddressOptions, type PerAddressWords } from './address-limit.js';
export { InboundLimit, type InboundLimitOptions, type InboundWords } from './inbound-limit.js';
export type { BoundsLogFields, BoundsLogger } from './logger.js';
export { OutboundLimit, type EngineConnection, type OutboundLimitOptions, type OutboundWords } from './outbound-limit.js';
export {
  boundedLineWriter,
  isLogLevel,
  levelledLogger,
  LOG_LEVELS,
  LOG_RANK,
  logLine,
  exitOnceWritten,
  MAX_QUEUED_LOG_BYTES,
  SERVICE_EXIT_WRITE_WAIT_MS,
  type LineStream,
  type LogFields,
  type Logger,
  type LogLevel,
} from './json-log.js';
