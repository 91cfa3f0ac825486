// Time to apply a source ADD COLUMN ... DEFAULT <constant> to a 1M-row DuckDB table, as walduck does
// it (src/sink/schema-change.ts applyPlan): the plain ALTER, and the rebuild used when the open
// DuckDB transaction has already updated or deleted rows of that table. Run after `npm run build`:
//   node scripts/measure-add-column.mjs [rows]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { applyPlan } from '../dist/src/sink/schema-change.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'walduck-addcol-'));
const int4 = { typname: 'int4', typmod: -1, typtype: 'b' };
const text = { typname: 'text', typmod: -1, typtype: 'b' };
const col = (attnum, name, type, pg) => ({ attnum, name, type, pg, notNull: false, dropped: false });
const rec = {
  schema: 'public',
  table: 't',
  oid: '1',
  identity: 'default',
  keyNames: ['id'],
  maxAttnum: 3,
  columns: [col(1, 'id', 'integer', int4), col(2, 'n', 'integer', int4), col(3, 'pad', 'text', text)],
};
const added = col(4, 'c', 'integer', int4);
const plan = {
  steps: [{ kind: 'add', col: added, fill: '7', note: 'existing rows get the default 7' }],
  next: { ...rec, maxAttnum: 4, columns: [...rec.columns, added] },
};
try {
  for (const touched of [false, true]) {
    const file = join(dir, `t-${touched}.duckdb`);
    const db = await DuckDBInstance.create(file);
    const conn = await db.connect();
    await conn.run(
      `CREATE TABLE t AS SELECT range::INTEGER AS id, (range % 1000)::INTEGER AS n, 'row ' || range AS pad FROM range(${rows})`,
    );
    await conn.run('CHECKPOINT');
    await conn.run('BEGIN TRANSACTION');
    if (touched) await conn.run('UPDATE t SET n = n + 1 WHERE id = 1');
    const t0 = performance.now();
    await applyPlan(conn, rec, plan, 0n, () => {}, touched);
    const t1 = performance.now();
    await conn.run('COMMIT');
    const t2 = performance.now();
    const check = (await conn.runAndReadAll('SELECT count(*), min(c), max(c) FROM t')).getRows()[0];
    process.stdout.write(
      `${touched ? 'rebuild (table touched in the open transaction)' : 'ALTER TABLE ADD COLUMN ... DEFAULT'}: ${rows} rows, apply ${(t1 - t0).toFixed(1)} ms, COMMIT ${(t2 - t1).toFixed(1)} ms; check ${check.join(' ')}\n`,
    );
    conn.closeSync();
    db.closeSync();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
