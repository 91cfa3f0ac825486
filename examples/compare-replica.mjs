// Read a replica with DuckDB and compare it with PostgreSQL at the LSN the replica stores: the figures
// a user would check (row count and the sum of a column). PostgreSQL is compared as it is now, so the
// example first makes sure nothing for the table is waiting in the slot after the stored LSN (peeking
// does not consume; run it while `walduck replicate` is stopped, since an active slot cannot be peeked).
//   node examples/compare-replica.mjs CONNINFO shop.duckdb public.orders amount
import { DuckDBInstance } from '@duckdb/node-api';
import { connect, parseConnectionString } from 'walduck/protocol';

const [source, file, table, column] = process.argv.slice(2);
const [schema, name] = table.includes('.') ? table.split('.') : ['public', table];
const ident = (s) => `"${s.replaceAll('"', '""')}"`;
const literal = (s) => `'${s.replaceAll("'", "''")}'`;
const figures = `SELECT count(*), sum(${ident(column)}) FROM ${ident(schema)}.${ident(name)}`;

const duck = await (await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' })).connect();
const state = (await duck.runAndReadAll('SELECT slot, lsn FROM walduck.state')).getRows();
if (state.length !== 1) throw new Error(`${file} holds ${state.length} replication states, expected one`);
const [slot, lsn] = state[0].map(String);
const replica = (await duck.runAndReadAll(figures)).getRows()[0].map((v) => (v === null ? null : String(v)));

const pg = await connect(parseConnectionString(source, process.env), { replication: false });
try {
  // wal2json's changes for this table after the stored LSN (the slot resumes there); none = same point.
  const [pending] = await pg.query(
    `SELECT count(*) FROM pg_logical_slot_peek_changes(${literal(slot)}, NULL, NULL,
       'format-version', '2', 'add-tables', ${literal(`${schema}.${name}`)})
     WHERE lsn > ${literal(lsn)}::pg_lsn AND data::json->>'action' IN ('I', 'U', 'D', 'T')`,
  );
  const waiting = Number(pending.rows[0][0]);
  if (waiting > 0) {
    console.log(
      `${waiting} change(s) of ${table} after ${lsn} are not in the replica yet: replicate, then compare`,
    );
    process.exit(2);
  }
  const [primary] = await pg.query(figures);
  const source = primary.rows[0];
  const same = source[0] === replica[0] && source[1] === replica[1];
  console.log(
    `at ${lsn}: PostgreSQL ${source.join(' / ')}, DuckDB ${replica.join(' / ')}: ${same ? 'equal' : 'DIFFERENT'}`,
  );
  process.exitCode = same ? 0 : 1;
} finally {
  await pg.close();
}
