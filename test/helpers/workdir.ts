// A test file's scratch directory: made when the file loads, removed with everything in it after the
// file's tests (the preamble every file that writes DuckDB files or logs repeated).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A new directory under the system's temp directory, named `prefix` and a random suffix. */
export function useWorkdir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
