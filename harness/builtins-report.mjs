// Loaded into a process under test with `--import` (agent/test/footprint.test.ts,
// signaling/test/footprint.test.ts): writes the names of the Node.js built-in modules the process
// has loaded, one per line, to $TETHER_TEST_BUILTINS_OUT, every 100 ms and when it exits (a process
// ended by SIGKILL leaves the last of them). Each report is written beside the file and renamed onto
// it, so a reader never sees one half written (an empty file read between truncate and write failed
// a CI run).
import { renameSync, writeFileSync } from 'node:fs';

const out = process.env.TETHER_TEST_BUILTINS_OUT;
if (out) {
  const write = () => {
    const loaded = process.moduleLoadList.filter((entry) => entry.startsWith('NativeModule ')).map((entry) => entry.slice(13));
    writeFileSync(`${out}.next`, `${loaded.join('\n')}\n`);
    renameSync(`${out}.next`, out);
  };
  setInterval(write, 100).unref();
  process.on('exit', write);
}
