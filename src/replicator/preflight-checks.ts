// The preflight's checks of the source server, before a slot is looked at: wal_level and the
// database's encoding (the first session's, and again at each reconnect's slot decision), that a
// DuckDB file resumed follows this cluster and database, and the database's money digits (read once
// a run, for the sink to check money columns). Kept apart from the table and sink setup (preflight.ts) and the slot decision
// (preflight-slot.ts), which both call them.

import { type Connection, type ConnectionSettings, connect, type LogFn } from '../protocol/index.js';
import { attachedCatalog, readState } from '../sink/checkpoint.js';
import type { DuckDbSink } from '../sink/duckdb-sink.js';
import type { MoneyLocale } from '../sink/money-locale.js';
import { ReplicateError } from './errors.js';

/** The DuckDB connection the sink writes through (the sink is the one room that names DuckDB's package). */
export type DuckConnection = Parameters<typeof DuckDbSink.open>[0];

/**
 * A DuckDB file follows one database of one cluster. Pointed at another (a different system
 * identifier, or another database), resuming would mix two histories under one LSN: refuse. A
 * failover to a physical standby keeps the identifier, and is followed.
 */
export async function checkSameSource(
  duck: DuckConnection,
  slot: string,
  file: string,
  systemId: string,
  database: string,
): Promise<void> {
  const state = await readState(duck, await attachedCatalog(duck), slot).catch(() => undefined);
  if (!state) return;
  if (
    (state.systemId !== null && state.systemId !== systemId) ||
    (state.database !== null && state.database !== database)
  ) {
    throw new ReplicateError(
      'preflight',
      'WALDUCK_OTHER_SOURCE',
      `DuckDB file ${file} follows database ${state.database ?? '?'} of the cluster with system identifier ${state.systemId ?? '?'}, but the source is database ${database} of cluster ${systemId}: point --source at the server it was made from, or use a new DuckDB file`,
    );
  }
}

/**
 * Logical decoding needs wal_level=logical, and walduck a UTF8 database: each refused in one line
 * that says what to do.
 */
export async function checkServer(conn: Connection): Promise<void> {
  const [r] = await conn.query('SHOW wal_level');
  const level = r?.rows[0]?.[0];
  if (level !== 'logical') {
    throw new ReplicateError(
      'preflight',
      'WALDUCK_WAL_LEVEL',
      `the source runs with wal_level=${level}, and logical replication needs wal_level=logical: set it in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL`,
    );
  }
  // wal2json writes a change's text in the database's encoding, unconverted (client_encoding does
  // not apply to a plugin's output), and walduck reads it as UTF-8: in a LATIN1 database a streamed
  // 'Ã¯' arrived as 'ï' while the snapshot's COPY, converted by the server, had it right; in
  // SQL_ASCII bytes that are not UTF-8 would become U+FFFD.
  // The server reports it at startup; a replication session's SHOW takes one name per command.
  const encoding =
    conn.serverParameters.get('server_encoding') ??
    (await conn.query('SHOW server_encoding'))[0]?.rows[0]?.[0];
  if (encoding !== 'UTF8') {
    throw new ReplicateError(
      'preflight',
      'WALDUCK_ENCODING',
      `the source database's encoding is ${encoding}: wal2json sends its text unconverted, and walduck reads UTF-8, so streamed text would differ from the source; replicate needs a UTF8 database (CREATE DATABASE … ENCODING 'UTF8', then move the data with pg_dump/pg_restore)`,
    );
  }
}

/**
 * Whether a table of the source database has a money column (money, money[], a domain over money):
 * only then is the database's money read (readMoneyLocale), which takes one more walsender.
 */
export async function databaseHoldsMoney(conn: Connection): Promise<boolean> {
  const [r] = await conn.query(
    `SELECT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND 'money'::regtype IN (t.oid, t.typelem, t.typbasetype))`,
  );
  return r?.rows[0]?.[0] === 't';
}

/**
 * The database's own money, as its sessions see it: walduck's sessions pin lc_monetary=C, so this one
 * session is opened without the pinned settings (a replication session in database mode, admitted as
 * the stream is). Read once a run, when a table holds money (databaseHoldsMoney); the sink refuses money
 * columns when the digits are not 2.
 */
export async function readMoneyLocale(settings: ConnectionSettings, log: LogFn): Promise<MoneyLocale> {
  const conn = await connect(settings, { replication: 'database', pinSettings: false, log });
  try {
    const [r] = await conn.query("SELECT current_setting('lc_monetary'), scale(1::money::numeric)");
    const row = r?.rows[0];
    return { locale: row?.[0] ?? '?', digits: Number(row?.[1] ?? 2) };
  } finally {
    await conn.close().catch(() => {});
  }
}
