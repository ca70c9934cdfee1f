export { startSignalingServer, type SignalingServer, type SignalingServerOptions } from './server.js';
export { createJsonLogger, type Logger, type LogLevel, type LogFields } from './log.js';
