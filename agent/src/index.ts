/** The agent as a library: start it with a configuration object instead of the CLI. */
export { Agent, rtcConfigFrom, type AgentStartError } from './agent.js';
export { AgentConfig, DEFAULT_LABELS, DEFAULT_SHELLS, HELP, loadConfig, resolveConfig, type IceServerConfig } from './config.js';
export { DockerTargets, isExposed, type ExposeRule, type ResolvedTarget } from './docker-targets.js';
export { createLogger, setLogLevel, setLogSink, type LogLevel, type Logger, type LogSink } from './log.js';
export { AGENT_VERSION } from './version.js';
