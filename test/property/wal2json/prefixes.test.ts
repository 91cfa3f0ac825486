// The v2 fast paths (v2-prefix.ts: a column whose bytes up to its value equal the table's last row's
// is taken as that column; a "pk" array equal to the last one is its names) give exactly what a plain
// parse gives. Generated lines for a few tables, each printed in one of a few column shapes (so rows
// repeat their prefixes and the fast path is taken), with variations that must leave it: a type or a
// name changed, a column omitted, other whitespace, keys in another order or added, no type OID, an
// escaped name, and broken columns. One decoder reads the whole sequence; each line is compared with
// a new decoder's result for that line alone (no cache, so every column read the plain way), errors
// included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Change } from '../../../src/wal2json/change.js';
import { createDecoder, type Wal2JsonDecoder } from '../../../src/wal2json/decoder.js';
import { Wal2JsonError } from '../../../src/wal2json/errors.js';
import { enc } from '../../unit/wal2json/helpers.js';
import { jsonNumber } from './arbitraries.js';

const runs = Number(process.env.WALDUCK_FUZZ_RUNS ?? 200);

const cell = fc.oneof(
  jsonNumber,
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('null', 'true', 'false', '"a\\"b"', '"\\u00e9"', '"}"', '"\\"value\\":1"'),
);

const column = fc.record({
  // Names and types of equal length too, so a wrong match would show as a wrong column.
  name: fc.constantFrom('id', 'ab', 'é', 'x"', 'a', 'value'),
  type: fc.constantFrom('bigint', 'text', 'date', 'numeric(12,2)', 'integer[]'),
  oid: fc.constantFrom(20, 25, 26, 1700, 1007),
});
type Column = typeof column extends fc.Arbitrary<infer T> ? T : never;

const VARIANTS = [
  'plain',
  'spaces',
  'value-first',
  'no-oid',
  'extra-key',
  'key-after-value',
  'escaped-name',
  'omitted',
  'renamed',
  'retyped',
  'other-oid',
  'duplicate-name',
  'no-value',
] as const;
type Variant = (typeof VARIANTS)[number];

const line = fc.record({
  table: fc.constantFrom('t', 't', 'u', 'w'),
  // Mostly the table's first shape, so consecutive rows repeat their prefixes.
  shape: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(2) }),
  kind: fc.constantFrom('I', 'U', 'D'),
  values: fc.array(cell, { minLength: 6, maxLength: 6 }),
  // Mostly plain, so the fast path is taken; a variation on one column now and then.
  variant: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Variant>('plain') },
    { weight: 4, arbitrary: fc.constantFrom(...VARIANTS) },
  ),
  at: fc.nat(5),
  // Mostly as walduck asks (no include-type-oids), now and then with type OIDs.
  oids: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  pk: fc.constantFrom('none', 'id', 'id-a', 'id-spaced'),
  truncate: fc.option(fc.nat(), { freq: 12, nil: undefined }),
});
type Line = typeof line extends fc.Arbitrary<infer T> ? T : never;

/** The same length, another name or type: only a byte-for-byte comparison tells them apart. */
const RENAME: Record<string, string> = { id: 'ab', ab: 'id', é: 'x"', 'x"': 'é', a: 'b', value: 'vbkue' };
const RETYPE: Record<string, string> = {
  bigint: 'bigint',
  text: 'date',
  date: 'text',
  'numeric(12,2)': 'numeric(12,3)',
  'integer[]': 'integer[]',
};

function renderColumn(col: Column, value: string, v: Variant): string {
  const c =
    v === 'renamed'
      ? { ...col, name: RENAME[col.name] as string }
      : v === 'retyped'
        ? { ...col, type: RETYPE[col.type] as string }
        : v === 'other-oid'
          ? { ...col, oid: col.oid + 1 }
          : col;
  const name =
    v === 'escaped-name'
      ? `"${[...c.name].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`
      : JSON.stringify(c.name);
  const sp = v === 'spaces' ? ' ' : '';
  const keys = [`"name":${sp}${name}`];
  if (v === 'duplicate-name') keys.push(`"name":${name}`);
  keys.push(`"type":${sp}"${c.type}"`);
  if (v !== 'no-oid') keys.push(`"typeoid":${sp}${c.oid}`);
  if (v === 'extra-key') keys.push('"x":[1,{"y":"}"}]');
  const val = `"value":${sp}${value}`;
  if (v === 'value-first') keys.unshift(val);
  else if (v !== 'no-value') keys.push(val);
  if (v === 'key-after-value') keys.push('"z":null');
  return `{${keys.join(`,${sp}`)}}`;
}

function renderColumns(cols: readonly Column[], l: Line): string {
  const out: string[] = [];
  cols.forEach((c, i) => {
    const v = i === l.at % cols.length ? l.variant : l.oids ? 'plain' : 'no-oid';
    if (v !== 'omitted') out.push(renderColumn(c, l.values[i] ?? 'null', v));
  });
  return `[${out.join(',')}]`;
}

const PK: Record<string, string> = {
  none: '',
  id: ',"pk":[{"name":"id","type":"bigint","typeoid":20}]',
  'id-a': ',"pk":[{"name":"id","type":"bigint","typeoid":20},{"name":"a","type":"text","typeoid":25}]',
  'id-spaced': ',"pk":[ {"name":"id", "type":"bigint","typeoid":20} ]',
};

function render(shapes: readonly (readonly Column[])[], l: Line): Uint8Array {
  const cols = shapes[l.shape % shapes.length] as readonly Column[];
  const row = `"columns":${renderColumns(cols, l)}`;
  const old = `"identity":${renderColumns(cols.slice(0, 2), l)}`;
  const body = l.kind === 'I' ? row : l.kind === 'U' ? `${row},${old}` : old;
  const text = `{"action":"${l.kind}","xid":7,"timestamp":"2026-12-01 15:00:00+00","lsn":"0/1","schema":"public","table":"${l.table}",${body}${PK[l.pk]}}`;
  const bytes = enc.encode(text);
  return l.truncate === undefined ? bytes : bytes.subarray(0, l.truncate % bytes.length);
}

/** A line's events, or its error's code and message. */
function attempt(d: Wal2JsonDecoder, bytes: Uint8Array, lsn: bigint): Change[] | string {
  try {
    return [...d.decode(bytes, lsn)];
  } catch (err) {
    if (err instanceof Wal2JsonError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

describe('v2 prefix fast paths equal the plain parse', () => {
  it('generated lines of a few tables and shapes, with variations, read by one decoder', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(column, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        fc.array(line, { minLength: 10, maxLength: 40 }),
        (shapes, lines) => {
          // The stateful decoder reads the lines as views into one buffer, at odd offsets, as the
          // stream hands out the payloads of one socket chunk; the fresh ones read copies.
          const rendered = lines.map((l) => render(shapes, l));
          const chunk = Buffer.concat([
            Buffer.from(' '),
            ...rendered.flatMap((b) => [b, Buffer.from(' \n')]),
          ]);
          const d = createDecoder({ formatVersion: 2 });
          let at = 1;
          rendered.forEach((bytes, i) => {
            const lsn = BigInt(i + 1);
            const view = chunk.subarray(at, at + bytes.length);
            at += bytes.length + 2;
            assert.deepEqual(attempt(d, view, lsn), attempt(createDecoder({ formatVersion: 2 }), bytes, lsn));
          });
        },
      ),
      { seed: 19, numRuns: runs },
    );
  });
});
