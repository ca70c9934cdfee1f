import type { ClientToServerEvents, ServerToClientEvents } from '@tether/protocol';
import type { Server, Socket } from 'socket.io';
import type { Identity } from './auth.js';

/** What the server keeps on each connection, set once its handshake passed. */
export interface SocketData {
  identity: Identity;
}

/** What signaling nodes tell each other through the Redis adapter (`serverSideEmit`); parsed on receipt. */
export interface InterServerEvents {
  /** token ids were revoked */
  'tether:revoked': (jtis: string[]) => void;
}

/** The Socket.IO server, typed by the protocol's event maps. */
export type SignalingIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** The room the consoles of one organisation join, so that its presence reaches them in one emit. */
export const consolesRoom = (org: string) => `consoles:${org}`;
