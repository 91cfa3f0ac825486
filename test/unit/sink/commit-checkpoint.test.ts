// A transaction that appended more than DuckDB's checkpoint_threshold is checkpointed by its COMMIT
// and never written to DuckDB's WAL (commit-room.ts): DuckDB's own estimate counts a string as its
// header, so 20 MB of long texts went to the WAL and were written again at the next checkpoint. A
// small transaction still goes to the WAL (a checkpoint per 100-row transaction would cost more),
// and the threshold is set back after either.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbSink } from '../../../src/sink/duckdb-sink.js';
import type { SourceTable } from '../../../src/source/catalog.js';

const dir = mkdtempSync(join(tmpdir(), 'walduck-commit-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const table: SourceTable = {
  schema: 'public',
  table: 'docs',
  identity: 'default',
  key: [0],
  columns: [
    { name: 'id', declared: 'bigint', type: { typname: 'int8', typmod: -1, typtype: 'b' }, notNull: true },
    { name: 'doc', declared: 'text', type: { typname: 'text', typmod: -1, typtype: 'b' }, notNull: false },
  ],
};

it('a transaction larger than checkpoint_threshold commits without writing the WAL; a small one writes it', async () => {
  const file = join(dir, 'docs.duckdb');
  const db = await DuckDBInstance.create(file);
  const conn = await db.connect();
  const logged: string[] = [];
  try {
    const sink = await DuckDbSink.open(conn, [table], {
      slot: 's',
      batchChanges: 1e9,
      batchMs: 1e9,
      log: (m) => logged.push(m),
      warn: () => {},
    });
    const walBytes = () => (existsSync(`${file}.wal`) ? statSync(`${file}.wal`).size : 0);
    const threshold = async () =>
      String((await conn.runAndReadAll("SELECT current_setting('checkpoint_threshold')")).getRows()[0]?.[0]);
    const before = await threshold();
    let lsn = 0x100n;
    const transaction = async (rows: number, bytes: number, from: number) => {
      await sink.apply({ kind: 'begin', lsn: ++lsn });
      for (let i = 0; i < rows; i++) {
        const id = String(from + i);
        // Distinct texts: repeats would compress, and size is the point.
        const doc = `${id}:`.padEnd(bytes, String.fromCharCode(97 + (i % 26)));
        await sink.apply({
          kind: 'insert',
          lsn: ++lsn,
          schema: 'public',
          table: 'docs',
          new: { names: ['id', 'doc'], types: ['bigint', 'text'], values: [id, doc] },
        });
      }
      await sink.apply({ kind: 'commit', lsn: ++lsn });
      assert.equal(await sink.commit(), lsn);
    };

    // 100 rows of 1 kB: to the WAL, as DuckDB decides.
    await transaction(100, 1000, 1);
    const small = walBytes();
    assert.ok(small > 100_000, `a small transaction is in the WAL (${small} bytes)`);
    assert.equal(await threshold(), before);
    // 1200 rows of 20 kB (24 MB, above the 16 MiB threshold): checkpointed, the WAL emptied.
    await transaction(1200, 20_000, 1000);
    assert.equal(walBytes(), 0, 'the large transaction was not written to the WAL');
    assert.equal(await threshold(), before, 'checkpoint_threshold is set back');
    assert.ok(
      logged.some((m) => /^COMMIT checkpoints/.test(m)),
      logged.join('\n'),
    );
    const r = await conn.runAndReadAll(
      'SELECT count(*)::INTEGER, sum(length(doc))::BIGINT FROM main.docs WHERE id >= 1000',
    );
    assert.deepEqual(r.getRows()[0], [1200, 24_000_000n]);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
});
