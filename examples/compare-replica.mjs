// Read a replica with DuckDB and compare it with PostgreSQL at the LSN the replica stores, on the
// figures a user would check: the row count and the sum of a column. PostgreSQL can only be read as it
// is now, so first make sure the slot holds no change of the table at or past the stored LSN (peeking
// consumes nothing; run it while `walduck replicate` is stopped: an active slot cannot be peeked).
// walduck keeps PostgreSQL's `public` schema in DuckDB's `main`.
//   node examples/compare-replica.mjs CONNINFO shop.duckdb public.orders amount
import { DuckDBInstance } from '@duckdb/node-api';
import { connect, parseConnectionString } from 'walduck/protocol';

const [source, file, table, column] = process.argv.slice(2);
const [schema, name] = table.includes('.') ? table.split('.') : ['public', table];
const ident = (s) => `"${s.replaceAll('"', '""')}"`;
const literal = (s) => `'${s.replaceAll("'", "''")}'`;
const figures = (sch) => `SELECT count(*), sum(${ident(column)}) FROM ${ident(sch)}.${ident(name)}`;

const duck = await (await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' })).connect();
const state = (await duck.runAndReadAll('SELECT slot, lsn FROM walduck.state')).getRows();
if (state.length !== 1) throw new Error(`${file} holds ${state.length} replication states, expected one`);
const [slot, lsn] = state[0].map(String);
const duckRows = await duck.runAndReadAll(figures(schema === 'public' ? 'main' : schema));
const replica = duckRows.getRows()[0].map((v) => (v === null ? null : String(v)));

const pg = await connect(parseConnectionString(source, process.env), { replication: false });
try {
  // The stored LSN is an end position: a record starting there is not applied yet, hence >=.
  const [pending] = await pg.query(
    `SELECT count(*) FROM pg_logical_slot_peek_changes(${literal(slot)}, NULL, NULL,
       'format-version', '2', 'add-tables', ${literal(`${schema}.${name}`)})
     WHERE lsn >= ${literal(lsn)}::pg_lsn AND data::json->>'action' IN ('I', 'U', 'D', 'T')`,
  );
  const waiting = Number(pending.rows[0][0]);
  if (waiting > 0) {
    console.log(
      `${waiting} change(s) of ${table} from ${lsn} on are not in the replica yet: replicate first`,
    );
    process.exitCode = 2;
  } else {
    const [{ rows }] = await pg.query(figures(schema));
    const same = rows[0][0] === replica[0] && rows[0][1] === replica[1];
    const verdict = same ? 'equal' : 'DIFFERENT';
    console.log(`at ${lsn}: PostgreSQL ${rows[0].join(' / ')}, DuckDB ${replica.join(' / ')}: ${verdict}`);
    process.exitCode = same ? 0 : 1;
  }
} finally {
  await pg.close();
  duck.closeSync();
}
