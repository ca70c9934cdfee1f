/**
 * Saved workspaces: a named set of tabs (agent, container, title) and their split panes, kept
 * through the host API and reopened with one action, each tab with a new shell. Saving under a
 * name that exists replaces it.
 */
import { Emitter, type Disposable } from '../base/emitter';
import type { TetherApi, Workspace } from '../host/host';

/** As many as the host keeps (electron/main/ipc.ts refuses more). */
export const MAX_WORKSPACES = 100;

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

  /** Saves (or replaces) the workspace; refused beyond MAX_WORKSPACES, and when the host cannot store it, with the list as it was. */
  async save(workspace: Workspace): Promise<void> {
    const next = [...this.saved.filter((w) => w.name !== workspace.name), workspace].sort((a, b) => a.name.localeCompare(b.name));
    if (next.length > MAX_WORKSPACES) throw new Error(`at most ${MAX_WORKSPACES} workspaces are kept: delete one first`);
    await this.host.workspaces.save(next);
    this.saved = next;
    this.changeEmitter.fire();
  }

  async remove(name: string): Promise<void> {
    const next = this.saved.filter((w) => w.name !== name);
    await this.host.workspaces.save(next);
    this.saved = next;
    this.changeEmitter.fire();
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}
