export * from './errors.js';
export * from './flow-control.js';
export * from './tty.js';
export * from './parse.js';
export * from './signaling.js';
