/**
 * A Unix socket that forwards to the Docker engine's, which a test can cut (every connection
 * closed, the socket removed: the engine stopped or restarting) and open again. An agent or a
 * dockerode client given its path loses the engine without the engine itself stopping, which other
 * tests share.
 */
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export class EngineSocket {
  readonly path: string;
  private server: Server | undefined;
  private readonly open = new Set<Socket>();

  constructor(dir: string) {
    this.path = join(dir, 'docker.sock');
  }

  async listen(): Promise<void> {
    const server = createServer((client) => {
      const engine = createConnection('/var/run/docker.sock');
      for (const end of [client, engine]) {
        this.open.add(end);
        end.on('close', () => this.open.delete(end));
        end.on('error', () => undefined);
      }
      client.pipe(engine).pipe(client);
      client.on('close', () => engine.destroy());
      engine.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.path, resolve));
    this.server = server;
  }

  /** The engine is gone: every connection closed, the socket removed. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const end of this.open) end.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(this.path, { force: true });
  }
}
