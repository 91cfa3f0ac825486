// Preloaded into a walduck child (node --import) by the memory tests: at exit it writes the process's
// peak resident set (VmHWM from /proc/self/status, the kernel's own high-water mark) to the file named
// by WALDUCK_TEST_PEAK_FILE. Read by the process itself at exit, the figure misses no late peak.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.WALDUCK_TEST_PEAK_FILE;
if (file) {
  process.on('exit', () => {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    writeFileSync(file, `${kb ?? ''}\n`);
  });
}
