/**
 * Saved workspaces: a named set of tabs (agent, container, title) and their split panes, kept
 * through the host API and reopened with one action, each tab with a new shell. Saving under a
 * name that exists replaces it.
 */
import { Emitter, type Disposable } from '../base/emitter';
import type { TetherApi, Workspace } from '../host/host';

export class Workspaces implements Disposable {
  private saved: Workspace[] = [];
  private readonly changeEmitter = new Emitter<void>();
  readonly onChange = this.changeEmitter.event;

  constructor(private readonly host: TetherApi) {
    host.workspaces.list().then(
      (list) => {
        this.saved = list;
        this.changeEmitter.fire();
      },
      (error: unknown) => console.warn(`[workspaces] not loaded: ${String(error)}`),
    );
  }

  list(): readonly Workspace[] {
    return this.saved;
  }

  get(name: string): Workspace | undefined {
    return this.saved.find((w) => w.name === name);
  }

  async save(workspace: Workspace): Promise<void> {
    this.saved = [...this.saved.filter((w) => w.name !== workspace.name), workspace].sort((a, b) => a.name.localeCompare(b.name));
    this.changeEmitter.fire();
    await this.host.workspaces.save(this.saved);
  }

  async remove(name: string): Promise<void> {
    this.saved = this.saved.filter((w) => w.name !== name);
    this.changeEmitter.fire();
    await this.host.workspaces.save(this.saved);
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}
