// duckFold against DuckDB itself: two names are one to DuckDB exactly when duckFold makes them equal
// (ASCII letters fold, no other letter does), and duckFoldSql folds in SQL as duckFold does in JS.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { duckFold, duckFoldSql, quoteIdent, quoteLiteral } from '../../../src/sink/sql.js';

// Letters whose case DuckDB might fold (it does only A-Z), weighted up against plain ASCII.
const letter = fc.constantFrom(...'aAbBzZ', ...'ÄäÜüÉéßẞǅǆǄİıKkΣσς', '1', ' ', '"');
const name = fc.array(letter, { minLength: 1, maxLength: 4 }).map((l) => l.join(''));

it('two names are one DuckDB name exactly when duckFold makes them equal (property)', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(name, name, async (a, b) => {
      const schema = `s${n++}`;
      await conn.run(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.${quoteIdent(a)} (x int)`);
      const found = await conn
        .run(`SELECT * FROM ${schema}.${quoteIdent(b)}`)
        .then(() => true)
        .catch(() => false);
      assert.equal(found, duckFold(a) === duckFold(b), `${JSON.stringify(a)} / ${JSON.stringify(b)}`);
      const sql = await conn.runAndReadAll(`SELECT ${duckFoldSql(quoteLiteral(b))}`);
      assert.equal(sql.getRows()[0]?.[0], duckFold(b));
    }),
    { seed: 20261203, numRuns: 300 },
  );
  conn.closeSync();
});
