/**
 * A test file's teardown: the steps its setup pushed, run in reverse order; a step that fails is
 * reported (`<file> teardown: …`) and the others still run, so one broken part leaves nothing else
 * behind (namespaces, containers, processes).
 */
export async function runCleanups(file: string, cleanups: (() => Promise<unknown>)[]): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`${file} teardown: ${String(error)}`);
    }
  }
}
