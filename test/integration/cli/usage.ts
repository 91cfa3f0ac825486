// Shared checks for the CLI tests: a usage error is exit 2 and one line; a failure exit 1 and one line.
import assert from 'node:assert/strict';
import type { RunResult } from '../../helpers/walduck.js';

export function assertOneLine(r: RunResult, code: 1 | 2, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}
