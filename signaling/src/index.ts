export { startSignalingServer, type SignalingServer, type SignalingServerOptions } from './server.js';
export { createJsonLogger, type Logger, type LogLevel, type LogFields } from './log.js';
export {
  issueToken,
  verifyToken,
  tokenId,
  DEFAULT_TOKEN_TTL_MS,
  MIN_TOKEN_SECRET_LENGTH,
  SIGNED_TOKEN_PREFIX,
  type IssueRequest,
  type TokenClaims,
} from './tokens.js';
export { appendRevocation, readRevocations } from './revocations.js';
export { issueTurnCredentials, DEFAULT_TURN_TTL_SECONDS, type TurnOptions } from './turn-credentials.js';
