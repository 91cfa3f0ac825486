// Decode errors reach stderr, which ends up in logs: they say where a bad value is (LSN and byte
// offset; row and column), never the row data around it, unless --debug-values asks for it.
import assert from 'node:assert/strict';
import { afterEach, it } from 'node:test';
import { describeError, setDebugValues } from '../../../src/cli/errors.js';
import { CopyTextParser } from '../../../src/snapshot/copy-text.js';
import { decodeAll } from '../wal2json/helpers.js';

afterEach(() => setDebugValues(false));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

it('a wal2json decode error names the LSN and offset but not the row data, unless --debug-values', () => {
  const err = thrown(() =>
    decodeAll(
      2,
      [
        '{"action":"I","schema":"s","table":"t","columns":[{"name":"ssn","value":"123-45-6789"},{"name":"b","value":x}]}',
      ],
      {},
      [0x16b374d848n],
    ),
  );
  const line = describeError(err);
  assert.match(line, /in column 2 \(b\) \(decode-v2, lsn 16\/B374D848, offset \d+\)/);
  assert.ok(!line.includes('6789'), line);
  setDebugValues(true);
  assert.match(describeError(err), /45-6789/);
});

it('format 1 says the column too (parallel arrays: names, then values)', () => {
  const err = thrown(() =>
    decodeAll(1, [
      '{"change":[{"kind":"insert","schema":"s","table":"t","columnnames":["a","email"],"columntypes":["int","text"],"columnvalues":[1,"bob@example.com\\q"]}]}',
    ]),
  );
  const line = describeError(err);
  assert.match(line, /in column 2 \(email\)/);
  assert.ok(!line.includes('bob@'), line);
});

it('a COPY format error names the row and column but not the row text, unless --debug-values', () => {
  const p = new CopyTextParser(2);
  const short = thrown(() => p.push(Buffer.from('1\talice@example.com\n2\n')));
  assert.match(describeError(short), /COPY row 2 has only 1 of 2 fields/);
  const bad = new CopyTextParser(2);
  const lone = thrown(() => bad.push(Buffer.from('1\tsecret-diagnosis\\\n')));
  const line = describeError(lone);
  assert.match(line, /lone backslash \(row 1, column 2\)/);
  assert.ok(!line.includes('secret-diagnosis'), line);
  setDebugValues(true);
  assert.match(describeError(lone), /secret-diagnosis/);
});
