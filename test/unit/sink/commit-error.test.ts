// A COMMIT DuckDB refuses ends as one walduck line that names the phase and the batch's LSN, and says
// nothing of the batch is stored: DuckDB's own text ("TransactionContext Error: Failed to commit: …")
// named neither. Made to fail here the way the sink once did by mistake: the transaction ALTERs a
// table, UPDATEs it and ALTERs it again, which DuckDB refuses at COMMIT.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { describeError } from '../../../src/cli/errors.js';
import { DuckDbSink } from '../../../src/sink/duckdb-sink.js';
import { DuckFileError } from '../../../src/sink/errors.js';
import type { SourceTable } from '../../../src/source/catalog.js';

const table: SourceTable = {
  schema: 'public',
  table: 'items',
  identity: 'default',
  key: [0],
  columns: [
    { name: 'id', declared: 'integer', type: { typname: 'int4', typmod: -1, typtype: 'b' }, notNull: true },
  ],
};

it('a refused COMMIT is a DuckFileError naming the LSN, in one line', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  let armed = false;
  try {
    const sink = await DuckDbSink.open(conn, [table], {
      slot: 's',
      batchChanges: 1000,
      batchMs: 1e9,
      log: () => {},
      warn: () => {},
      beforeCommit: async (c) => {
        if (!armed) return;
        await c.run('ALTER TABLE main.items ADD COLUMN y INTEGER');
        await c.run('UPDATE main.items SET y = 1');
        await c.run('ALTER TABLE main.items ADD COLUMN z INTEGER');
      },
    });
    const row = (id: string) => ({ names: ['id'], types: ['integer'], values: [id] });
    await sink.apply({ kind: 'begin', lsn: 0x10n });
    await sink.apply({ kind: 'insert', lsn: 0x11n, schema: 'public', table: 'items', new: row('1') });
    await sink.apply({ kind: 'commit', lsn: 0x12n });
    assert.equal(await sink.commit(), 0x12n);
    // ALTER, UPDATE, ALTER of one table in one transaction: DuckDB refuses the COMMIT.
    armed = true;
    await sink.apply({ kind: 'begin', lsn: 0x20n });
    await sink.apply({ kind: 'insert', lsn: 0x21n, schema: 'public', table: 'items', new: row('2') });
    await sink.apply({ kind: 'commit', lsn: 0x22n });
    const err = await sink.commit().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof DuckFileError, String(err));
    assert.equal(err.code, 'WALDUCK_DUCKDB_COMMIT');
    const line = describeError(err);
    assert.doesNotMatch(line, /\n/);
    assert.match(
      line,
      /^walduck: duckdb failed: DuckDB could not commit the batch up to 0\/22: .*nothing of it is stored/,
    );
    // DuckDB ended the transaction itself: the rollback after it succeeds, and so does a statement
    // that needs no open transaction (the snapshot's cleanup, which once replaced this error with
    // "clearSnapshotPending inside a transaction").
    await sink.rollback();
    await sink.clearSnapshotPending();
  } finally {
    conn.closeSync();
    db.closeSync();
  }
});
