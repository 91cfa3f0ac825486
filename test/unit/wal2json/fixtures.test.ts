// The captured wal2json 2.5 output of test/fixtures/wal2json/workload.sql, decoded in both formats and
// checked against what the workload wrote (the expected texts are PostgreSQL's output functions).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change, Delete, Insert, RowImage, Update } from '../../../src/wal2json/change.js';
import { decodeFixture } from './helpers.js';

const formats = ['v2', 'v1', 'v1-chunks'] as const;
const decoded = Object.fromEntries(formats.map((f) => [f, decodeFixture(f)])) as Record<
  (typeof formats)[number],
  Change[]
>;

type Row = Insert | Update | Delete;
const rows = (cs: readonly Change[], table: string): Row[] =>
  cs.filter(
    (c): c is Row => (c.kind === 'insert' || c.kind === 'update' || c.kind === 'delete') && c.table === table,
  );

function col(img: RowImage, name: string): string | null | undefined {
  const i = img.names.indexOf(name);
  return i < 0 ? undefined : img.values[i];
}

function typesRow(cs: readonly Change[], id: number): RowImage {
  const r = rows(cs, 'types').find((c) => c.kind === 'insert' && col(c.new, 'id') === String(id));
  assert.ok(r && r.kind === 'insert', `types row ${id}`);
  return r.new;
}

interface Txn {
  begin: Change;
  changes: Change[];
  commit: Change;
}
function transactions(cs: readonly Change[]): { txns: Txn[]; outside: Change[] } {
  const txns: Txn[] = [];
  const outside: Change[] = [];
  let open: { begin: Change; changes: Change[] } | undefined;
  for (const c of cs) {
    if (c.kind === 'begin') {
      assert.equal(open, undefined, 'begin inside a transaction');
      open = { begin: c, changes: [] };
    } else if (c.kind === 'commit') {
      assert.ok(open, 'commit outside a transaction');
      txns.push({ ...open, commit: c });
      open = undefined;
    } else if (open) open.changes.push(c);
    else outside.push(c);
  }
  assert.equal(open, undefined, 'unterminated transaction');
  return { txns, outside };
}

for (const f of formats) {
  describe(`wal2json fixture ${f}`, () => {
    const cs = decoded[f];

    it('keeps integers, numerics and floats exactly as PostgreSQL printed them', () => {
      const r1 = typesRow(cs, 1);
      const r2 = typesRow(cs, 2);
      assert.equal(col(r1, 'i2'), '-32768');
      assert.equal(col(r1, 'i4'), '-2147483648');
      assert.equal(col(r1, 'i8'), '-9223372036854775808');
      assert.equal(col(r2, 'i8'), '9223372036854775807');
      assert.equal(col(r2, 'num'), '123456789012345678901234567890123456789012345.678901234567890123456789');
      assert.equal(col(r2, 'num2'), '99999999.9999');
      assert.equal(col(typesRow(cs, 3), 'num2'), '0.0000');
      assert.equal(col(typesRow(cs, 4), 'r'), '-0');
      assert.equal(col(typesRow(cs, 4), 'd'), '-0');
      assert.equal(col(typesRow(cs, 4), 'num'), '0.0', 'numeric has no negative zero');
      assert.equal(col(typesRow(cs, 5), 'num'), '0.1000000000000000055511151231257827021181583404541015625');
      assert.equal(col(typesRow(cs, 5), 'd'), '5e-324');
      assert.equal(col(typesRow(cs, 5), 'r'), '1e-45');
      assert.equal(col(typesRow(cs, 6), 'i8'), '9007199254740993');
      assert.equal(col(typesRow(cs, 6), 'd'), '2.2250738585072014e-308');
    });

    it('gets null for NaN and ±Infinity in real, double and numeric (wal2json 2.5 prints null)', () => {
      const special: Array<[number, string[]]> = [
        [1, ['num', 'num2', 'r', 'd']], // NaN
        [2, ['r', 'd']], // Infinity
        [3, ['num', 'r', 'd']], // -Infinity
      ];
      for (const [id, cols] of special) {
        for (const c of cols) assert.equal(col(typesRow(cs, id), c), null, `row ${id} ${c}`);
      }
    });

    it('keeps every other type as its PostgreSQL text output', () => {
      const r1 = typesRow(cs, 1);
      assert.equal(col(r1, 'b'), 'true');
      assert.equal(col(typesRow(cs, 2), 'b'), 'false');
      assert.equal(col(typesRow(cs, 3), 'b'), null);
      assert.equal(col(r1, 't'), 'quote" backslash\\ newline\n tab\t cr\r bell\x07 emoji 😀 é ü 中文');
      assert.equal(col(typesRow(cs, 2), 't'), '');
      assert.equal(col(r1, 'vc'), 'varchar');
      assert.equal(col(r1, 'c'), 'ab   ');
      assert.equal(col(r1, 'by'), '00ff10', 'wal2json strips the \\x of bytea');
      assert.equal(col(typesRow(cs, 2), 'by'), '');
      assert.equal(col(r1, 'dt'), '2024-02-29');
      assert.equal(col(r1, 'tm'), '23:59:59.999999');
      assert.equal(col(r1, 'tmtz'), '12:00:00+05:30');
      assert.equal(col(r1, 'ts'), '-infinity');
      assert.equal(col(r1, 'tstz'), '-infinity');
      assert.equal(col(typesRow(cs, 2), 'tstz'), 'infinity');
      assert.equal(col(typesRow(cs, 3), 'tstz'), '2000-01-01 00:00:00+00');
      assert.equal(col(r1, 'iv'), '1 year 2 mons 3 days 04:05:06.789');
      assert.equal(col(r1, 'u'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
      assert.equal(col(r1, 'j'), '{"k": [1, 2.50, "x\\"y"]}');
      assert.equal(col(r1, 'jb'), '{"k": [1, 2.50, "x\\"y"]}');
      assert.equal(col(typesRow(cs, 3), 'j'), 'null', 'json null is the text "null", not SQL NULL');
      assert.equal(col(r1, 'ip'), '192.168.0.1/24');
      assert.equal(col(r1, 'net'), '10.0.0.0/8');
      assert.equal(col(r1, 'mac'), '08:00:2b:01:02:03');
      assert.equal(col(r1, 'm'), '-$92,233,720,368,547,758.08');
      assert.equal(col(typesRow(cs, 2), 'm'), '$92,233,720,368,547,758.07');
      assert.equal(col(r1, 'e'), 'sad');
      assert.equal(col(r1, 'dom'), '1');
      assert.equal(col(r1, 'arr'), '{1,NULL,3}');
      assert.equal(col(r1, 'arr2'), '{{a,b},{NULL,"d,e"}}');
      assert.equal(col(typesRow(cs, 3), 'arr'), '{{1,2},{3,4}}');
      assert.equal(col(r1, 'comp'), '(1,"x y")');
      assert.equal(col(typesRow(cs, 2), 'comp'), '(,)');
      const r7 = typesRow(cs, 7);
      assert.equal(r7.values.length, 31);
      assert.equal(r7.values.filter((v) => v === null).length, 30);
    });

    it('names types with their modifiers and gives their OIDs', () => {
      const r1 = typesRow(cs, 1);
      const type = (n: string) => r1.types[r1.names.indexOf(n)];
      assert.equal(type('vc'), 'character varying(20)');
      assert.equal(type('num2'), 'numeric(12,4)');
      assert.equal(type('arr'), 'integer[]');
      assert.equal(type('tstz'), 'timestamp with time zone');
      assert.equal(type('e'), 'mood');
      assert.equal(type('dom'), 'posint');
      assert.equal(r1.typeOids?.[r1.names.indexOf('i8')], 20);
      assert.equal(r1.typeOids?.[r1.names.indexOf('tstz')], 1184);
      assert.equal(typesRow(cs, 2).names, r1.names, 'same names array for consecutive rows');
    });

    it('REPLICA IDENTITY DEFAULT: old key on update and delete; an unchanged TOAST column is absent', () => {
      const rs = rows(cs, 'rid_default').slice(0, 4);
      assert.deepEqual(
        rs.map((c) => c.kind),
        ['insert', 'update', 'update', 'delete'],
      );
      const [ins, upd1, upd2, del] = rs as [Insert, Update, Update, Delete];
      assert.equal(col(ins.new, 'big')?.length, 40000);
      assert.deepEqual(upd1.new.names, ['id', 'v'], 'big was not changed: absent, not NULL');
      assert.deepEqual(upd1.new.values, ['1', 'second']);
      assert.deepEqual(upd1.old?.names, ['id']);
      assert.deepEqual(upd1.old?.values, ['1']);
      assert.deepEqual(upd2.new.values, ['2', 'third']);
      assert.deepEqual(upd2.old?.values, ['1']);
      assert.deepEqual(del.old.names, ['id']);
      assert.deepEqual(del.old.values, ['2']);
    });

    it('REPLICA IDENTITY FULL: the whole old row, TOAST value included', () => {
      const [ins, upd, del] = rows(cs, 'rid_full') as [Insert, Update, Delete];
      const big = col(ins.new, 'big');
      assert.equal(big?.length, 40000);
      assert.deepEqual(upd.new.names, ['id', 'v']);
      assert.deepEqual(upd.old?.names, ['id', 'v', 'big']);
      assert.equal(col(upd.old!, 'big'), big);
      assert.equal(col(upd.old!, 'v'), 'first');
      assert.deepEqual(del.old.names, ['id', 'v', 'big']);
      assert.equal(col(del.old, 'big'), big);
    });

    it('REPLICA IDENTITY USING INDEX: the index columns as old key', () => {
      const rs = rows(cs, 'rid_index').filter((c) => c.kind !== 'insert' || col(c.new, 'id') === '1');
      const [, upd1, upd2, del] = rs as [Insert, Update, Update, Delete];
      assert.deepEqual(upd1.old, { names: ['k'], types: ['integer'], typeOids: [23], values: ['10'] });
      assert.deepEqual(upd2.new.values, ['1', '11', 'second']);
      assert.deepEqual(upd2.old?.values, ['10']);
      assert.deepEqual(del.old.values, ['11']);
    });

    it('a table without key: inserts only (wal2json drops its updates and deletes)', () => {
      const rs = rows(cs, 'nokey');
      assert.ok(rs.every((c) => c.kind === 'insert'));
      assert.deepEqual(
        rs.map((c) => col((c as Insert).new, 'a')),
        ['1', '10', '20', '22'],
        'savepoint a rolled back 21; the rolled-back transaction 30 is absent',
      );
    });

    it('messages: the transactional one inside its transaction, the other one on its own', () => {
      const { txns, outside } = transactions(cs);
      const withMsg = txns.find((t) => t.changes.some((c) => c.kind === 'message'));
      assert.ok(withMsg);
      assert.deepEqual(
        withMsg.changes.map((c) => c.kind),
        ['insert', 'message'],
      );
      const m = withMsg.changes[1]!;
      assert.ok(m.kind === 'message');
      assert.equal(m.transactional, true);
      assert.equal(m.prefix, 'walduck-txn');
      assert.equal(m.content, 'transactional "content"\n');
      assert.deepEqual(
        outside.map((c) => (c.kind === 'message' ? [c.transactional, c.prefix, c.content] : c.kind)),
        [
          [false, 'walduck-now', 'not transactional é'],
          [false, 'walduck-capture-end', ''],
        ],
      );
    });

    it('TRUNCATE of two tables: v2 gives one truncate per table, v1 none at all', () => {
      const { txns } = transactions(cs);
      const truncates = cs.filter((c) => c.kind === 'truncate');
      if (f === 'v2') {
        assert.deepEqual(
          truncates.map((c) => (c.kind === 'truncate' ? c.tables : [])),
          [[{ schema: 'public', table: 'rid_full' }], [{ schema: 'public', table: 'rid_index' }]],
        );
        assert.equal(truncates[0]!.lsn, truncates[1]!.lsn);
        const t = txns.find((x) => x.changes.includes(truncates[0]!));
        assert.equal(t?.changes.length, 2);
      } else {
        assert.equal(truncates.length, 0);
      }
    });

    it('the bigger transaction: 60 inserts, 20 updates, 12 deletes in order', () => {
      const { txns } = transactions(cs);
      const big = txns.find((t) => t.changes.length >= 90);
      assert.ok(big);
      const kinds = big.changes.map((c) => c.kind);
      assert.deepEqual(kinds, [
        ...Array(60).fill('insert'),
        ...Array(20).fill('update'),
        ...Array(12).fill('delete'),
      ]);
    });

    it('commit.lsn is the transaction end LSN announced by begin (the XLogData dataStart of the commit)', () => {
      const { txns } = transactions(cs);
      assert.ok(txns.length > 20);
      for (const t of txns) {
        assert.ok(t.begin.kind === 'begin' && t.commit.kind === 'commit');
        assert.equal(t.commit.lsn, t.begin.endLsn);
        assert.equal(t.commit.xid, t.begin.xid);
        assert.ok(t.begin.lsn <= t.commit.lsn);
      }
    });
  });
}
