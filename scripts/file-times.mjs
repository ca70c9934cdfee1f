// A reporter for Node's test runner (scripts/run-tests.mjs adds it beside the spec reporter): each
// test file's wall time (the runner's own figure for the file: its hooks and tests, not the start
// of its process) and the sum of its top-level tests' durations,
// slowest first. From these figures SLOWEST_FIRST in scripts/run-tests.mjs is kept current.
import { relative } from 'node:path';

export default async function* fileTimes(source) {
  const files = new Map();
  const entry = (file) => {
    let found = files.get(file);
    if (!found) files.set(file, (found = { wall: 0, tests: 0, failed: 0, seen: new Set() }));
    return found;
  };
  for await (const event of source) {
    const { file, nesting, name, details } = event.data ?? {};
    if (event.type !== 'test:complete' || !file || nesting !== 0) continue;
    const seconds = (details?.duration_ms ?? 0) / 1000;
    const figures = entry(file);
    // the file's own entry is named by its path; a test may be reported twice (live, then in order)
    if (name === relative(process.cwd(), file) || name === file) figures.wall = seconds;
    else if (!figures.seen.has(name)) {
      figures.seen.add(name);
      figures.tests += seconds;
      if (details?.passed === false) figures.failed++;
    }
  }
  const rows = [...files].map(([file, { wall, tests, failed }]) => ({ file: relative(process.cwd(), file), wall, tests, failed }));
  rows.sort((a, b) => b.wall - a.wall);
  yield "wall s  tests s  file (wall: the file, hooks included; tests: its top-level tests' durations)\n";
  for (const row of rows)
    yield `${row.wall.toFixed(1).padStart(6)}  ${row.tests.toFixed(1).padStart(7)}  ${row.file}${row.failed ? `  (${row.failed} failed)` : ''}\n`;
}
