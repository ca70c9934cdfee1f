import type { ClientToServerEvents, ServerToClientEvents } from '@tether/protocol';
import type { Server, Socket } from 'socket.io';
import type { Identity } from './auth.js';

/** What the server keeps on each connection, set once its handshake passed. */
export interface SocketData {
  identity: Identity;
}

type NoInterServerEvents = Record<never, never>;

/** The Socket.IO server, typed by the protocol's event maps. */
export type SignalingIo = Server<ClientToServerEvents, ServerToClientEvents, NoInterServerEvents, SocketData>;
export type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, NoInterServerEvents, SocketData>;

/** The room the consoles of one organisation join, so that its presence reaches them in one emit. */
export const consolesRoom = (org: string) => `consoles:${org}`;
