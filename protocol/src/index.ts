export * from './errors.js';
export * from './flow-control.js';
export * from './tty.js';
export * from './parse.js';
export * from './signaling.js';
export * from './encoding.js';
export * from './pairing.js';
export * from './lan.js';
