// A workload on a live cluster, read back from wal2json 2.5 slots through the SQL function
// pg_logical_slot_peek_binary_changes with exactly the options wal2jsonOptions() builds, and decoded:
// every option is accepted by the server in both formats, add-tables escaping selects the odd names,
// generated values come back exactly, and both formats agree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ClusterInfo, psql } from '../../../src/cluster/throwaway.js';
import { parseLsn } from '../../../src/protocol/lsn.js';
import type { Change, Insert } from '../../../src/wal2json/change.js';
import { createDecoder } from '../../../src/wal2json/decoder.js';
import { wal2jsonOptions } from '../../../src/wal2json/options.js';
import { useCluster } from '../../helpers/cluster.js';

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Peeks the slot with the given options and decodes every row the SQL function returns. */
function peek(
  info: ClusterInfo,
  slot: string,
  opts: Array<[string, string]>,
  formatVersion: 1 | 2,
): Change[] {
  const args = opts.map(([k, v]) => `${sqlString(k)}, ${sqlString(v)}`).join(', ');
  const out = psql(
    info,
    `SELECT lsn || ' ' || encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes(${sqlString(slot)}, NULL, NULL, ${args})`,
  );
  const d = createDecoder({ formatVersion });
  const changes: Change[] = [];
  for (const line of out.split('\n').filter((l) => l.length > 0)) {
    const [lsnText, hex] = line.split(' ') as [string, string];
    const lsn = parseLsn(lsnText);
    assert.ok(lsn !== undefined, lsnText);
    for (const c of d.decode(Buffer.from(hex, 'hex'), lsn)) changes.push(c);
  }
  assert.equal(d.inTransaction, false);
  return changes;
}

const text = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\u0000'));
const numericText = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 45n }), fc.option(fc.stringMatching(/^[0-9]{1,30}$/)))
  .map(([neg, i, f]) => `${neg && (i > 0n || f) ? '-' : ''}${i}${f ? `.${f}` : ''}`);
const rowArb = fc.record({
  i8: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  num: numericText,
  t: text,
});

describe('wal2json on a live cluster', () => {
  const c = useCluster();

  it('decodes generated rows exactly, in both formats, for the add-tables selection only', () => {
    const info = c.info;
    const schema = 'we.ird s';
    const table = "t,a*b'c\\d";
    psql(
      info,
      `CREATE SCHEMA ${ident(schema)}; CREATE TABLE ${ident(schema)}.${ident(table)} (id serial PRIMARY KEY, i8 bigint, num numeric, t text); CREATE TABLE public.other (id int PRIMARY KEY)`,
    );
    for (const [slot] of [['live_v2'], ['live_v1'], ['live_v1_chunks']]) {
      psql(info, `SELECT pg_create_logical_replication_slot(${sqlString(slot!)}, 'wal2json')`);
    }
    const rows = fc.sample(rowArb, { numRuns: 40, seed: 4242 });
    // Three transactions, each with rows of the selected table and one of another table in between.
    for (let t = 0; t < 3; t++) {
      const part = rows.slice(t * 14, t * 14 + 14);
      const inserts = part
        .map(
          (r) =>
            `INSERT INTO ${ident(schema)}.${ident(table)} (i8, num, t) VALUES (${r.i8}, ${sqlString(r.num)}, ${sqlString(r.t)});`,
        )
        .join('\n');
      psql(info, `BEGIN; ${inserts} INSERT INTO public.other VALUES (${t}); COMMIT;`);
    }
    const tables = [{ schema, table }];
    const v2 = peek(info, 'live_v2', wal2jsonOptions({ formatVersion: 2, tables, includeTypeOids: true }), 2);
    const v1 = peek(info, 'live_v1', wal2jsonOptions({ formatVersion: 1, tables, includeTypeOids: true }), 1);
    const v1c = peek(
      info,
      'live_v1_chunks',
      wal2jsonOptions({ formatVersion: 1, tables, includeTypeOids: true, writeInChunks: true }),
      1,
    );
    for (const [name, cs] of [
      ['v2', v2],
      ['v1', v1],
      ['v1 chunks', v1c],
    ] as const) {
      const inserts = cs.filter((x): x is Insert => x.kind === 'insert');
      assert.ok(
        inserts.every((i) => i.schema === schema && i.table === table),
        `${name}: only the add-tables table`,
      );
      assert.deepEqual(
        inserts.map((i) => i.new.values.slice(1)),
        rows.map((r) => [String(r.i8), r.num, r.t]),
        name,
      );
      assert.deepEqual(inserts[0]?.new.types, ['integer', 'bigint', 'numeric', 'text']);
      assert.deepEqual(inserts[0]?.new.typeOids, [23, 20, 1700, 25]);
      assert.deepEqual(inserts[0]?.pk, ['id']);
      assert.equal(cs.filter((x) => x.kind === 'commit').length >= 3, true, `${name}: commits`);
    }
    const strip = (cs: readonly Change[]) => cs.map(({ lsn: _l, ...rest }) => rest);
    assert.deepEqual(strip(v1), strip(v2));
    assert.deepEqual(strip(v1c), strip(v2));
    // pretty-print (tabs, newlines, "\n\t\t,{" between changes) reads the same.
    const pretty = peek(
      info,
      'live_v1',
      [...wal2jsonOptions({ formatVersion: 1, tables, includeTypeOids: true }), ['pretty-print', '1']],
      1,
    );
    assert.deepEqual(strip(pretty), strip(v1));
    // Every commit carries the end LSN its begin announced (include-lsn).
    for (const cs of [v2, v1, v1c]) {
      let endLsn: bigint | undefined;
      for (const x of cs) {
        if (x.kind === 'begin') endLsn = x.endLsn;
        if (x.kind === 'commit') assert.equal(x.lsn, endLsn);
      }
    }
  });

  it('wal2json 2.5 accepts every option wal2jsonOptions builds, and rejects an unknown one', () => {
    const info = c.info;
    psql(info, `SELECT pg_create_logical_replication_slot('opts', 'wal2json')`);
    psql(
      info,
      'CREATE TABLE IF NOT EXISTS public.opt_t (id int PRIMARY KEY); INSERT INTO public.opt_t VALUES (1)',
    );
    for (const o of [
      wal2jsonOptions({ formatVersion: 2 }),
      wal2jsonOptions({
        formatVersion: 2,
        includeTypeOids: true,
        tables: [{ schema: 'public', table: 'opt_t' }],
      }),
      wal2jsonOptions({ formatVersion: 1 }),
      wal2jsonOptions({ formatVersion: 1, writeInChunks: true, includeTypeOids: true }),
    ]) {
      const v = o[0]![1] === '1' ? 1 : 2;
      assert.ok(peek(info, 'opts', o, v).some((x) => x.kind === 'insert'));
    }
    assert.throws(
      () =>
        peek(
          info,
          'opts',
          [
            ['format-version', '2'],
            ['no-such-option', '1'],
          ],
          2,
        ),
      /unknown/,
    );
  });
});
