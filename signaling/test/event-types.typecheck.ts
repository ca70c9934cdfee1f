// Type tests for the typed Socket.IO server and clients: checked by `tsc -p signaling`, never run.
import type { ConsoleToServerEvents, ServerToAgentEvents, ServerToConsoleEvents, AgentToServerEvents } from '@tether/protocol';
import type { Socket as ClientSocket } from 'socket.io-client';
import type { SignalingIo, SignalingSocket } from '../src/io-types.js';

declare const io: SignalingIo;
declare const socket: SignalingSocket;
declare const consoleClient: ClientSocket<ServerToConsoleEvents, ConsoleToServerEvents>;
declare const agentClient: ClientSocket<ServerToAgentEvents, AgentToServerEvents>;

export function serverSide(): void {
  io.to('consoles').emit('presence:diff', { seq: 2, joins: [{ agentId: 'a', name: 'A', version: '1' }], leaves: ['b'] });
  // @ts-expect-error a snapshot carries its seq and a list of agents, not a bare array
  io.to('consoles').emit('presence:snapshot', []);
  socket.emit('webrtc:offer', { sessionId: 'session-1', consoleId: 'c', sdp: 'v=0' });
  // @ts-expect-error an offer to an agent names the console, not the agent
  socket.emit('webrtc:offer', { sessionId: 'session-1', agentId: 'a', sdp: 'v=0' });
  // @ts-expect-error no such event
  socket.emit('webrtc:hello', {});
  socket.emit('signal:error', { code: 'FORBIDDEN', message: 'no' });
  // @ts-expect-error codes come from ERROR_CODES
  socket.emit('signal:error', { code: 'NOPE', message: 'no' });
  socket.data.identity satisfies { role: 'console' | 'agent' };
}

export function clientSide(): void {
  consoleClient.emit('webrtc:offer', { sessionId: 'session-1', agentId: 'a', sdp: 'v=0' }, (reply) => {
    if (!reply.ok) reply.error.code satisfies string;
  });
  // @ts-expect-error a console does not send answers
  consoleClient.emit('webrtc:answer', { sessionId: 'session-1', sdp: 'v=0' }, () => undefined);
  // @ts-expect-error sdp is a string
  consoleClient.emit('webrtc:offer', { sessionId: 'session-1', agentId: 'a', sdp: 1 }, () => undefined);
  consoleClient.on('presence:snapshot', (msg) => msg.agents.map((agent) => agent.agentId));
  consoleClient.on('presence:diff', (msg) => msg.seq satisfies number);
  consoleClient.emit('presence:resync', {}, (reply) => reply.ok satisfies boolean);
  agentClient.on('webrtc:offer', (msg) => msg.consoleId satisfies string);
  agentClient.emit('webrtc:ice', { sessionId: 'session-1', candidate: null }, () => undefined);
  // @ts-expect-error candidate must be given, null at the end of gathering
  agentClient.emit('webrtc:ice', { sessionId: 'session-1' }, () => undefined);
}
