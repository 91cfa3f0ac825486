// The COPY text parser against hand-written rows, fed whole, split in two at every byte offset, and
// one byte at a time: the rows must come out the same however the data is cut.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CopyFormatError, CopyTextParser, unescapeField } from '../../../src/snapshot/copy-text.js';
import type { Value } from '../../../src/wal2json/change.js';

// What a server's COPY TO STDOUT sends (simple escapes, \N), plus the octal and hex escapes COPY
// accepts, which stand for bytes (here the UTF-8 bytes of "é" and "€").
const DATA = [
  '1\tplain\t\\N\n',
  '2\ttab\\there\\nnew\\rline\\\\back\t\n',
  '3\t\\b\\f\\v\\q\\N2\t\\\\N\n',
  '4\t\\303\\251t\\xc3\\xa9\t\\342\\202\\254 \\x41\\x4\n',
  '5\tgrüße 😀 日本\t\\101\\1012\n',
].join('');

const EXPECTED: Value[][] = [
  ['1', 'plain', null],
  ['2', 'tab\there\nnew\rline\\back', ''],
  ['3', '\b\f\vqN2', '\\N'],
  ['4', 'été', '€ A\u0004'],
  ['5', 'grüße 😀 日本', 'AA2'],
];

function parse(parts: readonly Buffer[], width = 3, batch = 2): Value[][] {
  const p = new CopyTextParser(width);
  const rows: Value[][] = [];
  const take = () => {
    for (let r = 0; r < p.count; r++) rows.push(p.columns.map((c) => c[r] ?? null));
    p.reset();
  };
  for (const part of parts) {
    p.push(part);
    if (p.count >= batch) take();
  }
  p.end();
  take();
  return rows;
}

describe('COPY text parser', () => {
  const bytes = Buffer.from(DATA, 'utf8');

  it('parses whole input', () => {
    assert.deepEqual(parse([bytes]), EXPECTED);
  });

  it('gives the same rows split at every offset', () => {
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i)]), EXPECTED, `split at ${i}`);
    }
  });

  it('gives the same rows one byte at a time', () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) parts.push(bytes.subarray(i, i + 1));
    assert.deepEqual(parse(parts), EXPECTED);
  });

  it('counts rows across batches', () => {
    const p = new CopyTextParser(3);
    p.push(bytes);
    assert.equal(p.count, 5);
    p.reset();
    p.push(Buffer.from('6\ta\tb\n'));
    assert.equal(p.count, 1);
    assert.equal(p.rows, 6);
    assert.equal(p.columns[1]?.[0], 'a');
  });

  it('rejects a row with too few or too many fields', () => {
    assert.throws(() => parse([Buffer.from('1\t2\n')]), CopyFormatError);
    assert.throws(() => parse([Buffer.from('1\t2\t3\t4\n')]), CopyFormatError);
  });

  it('rejects data ending inside a row', () => {
    assert.throws(() => parse([Buffer.from('1\t2\t3')]), /ended inside a row/);
  });

  it('rejects a field ending in a lone backslash', () => {
    assert.throws(() => unescapeField('ab\\'), CopyFormatError);
    assert.throws(() => unescapeField('\\101\\'), CopyFormatError);
  });

  it('reads a one-column table and empty strings', () => {
    assert.deepEqual(parse([Buffer.from('\n\\N\nx\n')], 1), [[''], [null], ['x']]);
  });
});
