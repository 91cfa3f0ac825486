// verify's text report is one line per table and one per differing row, whatever the names and key
// values hold: a newline in a table name, a key column's name or a key value (all legal in
// PostgreSQL) used to split a row's line in two, so a script reading line by line misread the report.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderDiff, renderReport } from '../../../src/cli/commands/verify.js';

describe('verify report lines', () => {
  it('a key with a newline or other control character stays on its line', () => {
    const line = renderDiff({
      kind: 'different',
      key: { 'k\ney': 'a\nb', id: 'plain' },
      source: { 'k\ney': 'a\nb', id: 'plain' },
      replica: { 'k\ney': 'a\nb', id: 'plain' },
    });
    assert.equal(line.split('\n').length, 1, line);
    assert.match(line, /^different: U&"k\\000aey"="a\\nb", id=plain: source /);
  });

  it('a table name with a newline stays on its line', () => {
    const side = { rows: '1', hash: '0' };
    const out = renderReport({
      equal: false,
      slot: 's',
      lsn: '0/1',
      replicaLsnBefore: '0/1',
      replicaLsn: '0/1',
      catchUp: { changes: 0, transactions: 0, seconds: 0 },
      snapshotSeconds: 0,
      seconds: 0,
      tables: [
        {
          schema: 'public',
          table: 'two\nlines',
          equal: false,
          source: side,
          replica: { rows: '2', hash: '1' },
          tolerances: [],
          seconds: 0,
          sourceSeconds: 0,
          replicaSeconds: 0,
          diffs: [{ kind: 'missing', key: { id: '1' }, source: { id: '1' }, replica: null }],
        },
      ],
    });
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 3, out);
    assert.match(lines[0] ?? '', /^public\.U&"two\\000alines": DIFFERENT/);
  });
});
