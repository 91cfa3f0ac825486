// `stream -f` creates its file as pg_recvlogical does: owner-only, appending.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { openOutput } from '../../../src/cli/output.js';

it('creates the output file 0600 (row data is not for other users) and appends to it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wd-output-'));
  const saved = process.umask(0o022); // the common default, which left it 0644
  try {
    const file = join(dir, 'changes.json');
    for (const text of ['a\n', 'b\n']) {
      const out = openOutput(file, () => {});
      out.write(Buffer.from(text), () => {});
      out.sync();
      out.close();
    }
    assert.equal((statSync(file).mode & 0o777).toString(8), '600');
    assert.equal(readFileSync(file, 'utf8'), 'a\nb\n');
  } finally {
    process.umask(saved);
    rmSync(dir, { recursive: true, force: true });
  }
});
