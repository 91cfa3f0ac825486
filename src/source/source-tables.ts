// Which of the source's tables walduck replicates: the listing from pg_class (only the named ones
// when --tables gives them), each judged by what wal2json can tell of its rows (a row identity, logged,
// not a partition), and the start's choice with its refusals and warnings. The columns of each chosen
// table are read by table-columns.ts.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import {
  CatalogError,
  type QueryFn,
  type ReplicaIdentity,
  type SkippedTable,
  type SourceTable,
} from './catalog.js';
import { quoteLiteral } from './quote.js';
import { readColumns } from './table-columns.js';

const IDENTITY: Readonly<Record<string, ReplicaIdentity>> = {
  d: 'default',
  f: 'full',
  i: 'index',
  n: 'nothing',
};

// Partitions are not listed: a partitioned table is one table (its leaves are routed to it, see
// src/source/partitions.ts). Foreign, unlogged and temporary tables are listed so they can be named
// when skipped or refused: their changes never reach WAL.
// A DEFERRABLE primary key (indimmediate false) is no key here: PostgreSQL never logs a row's
// identity by it (its relcache skips non-immediate indexes), and wal2json's "pk" leaves it out.
const TABLES_SQL = `SELECT c.oid, n.nspname, c.relname, c.relreplident,
    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND i.indimmediate) AS has_pk,
    c.relkind, c.relpersistence,
    (SELECT rn.nspname FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE c.relispartition AND r.oid = pg_partition_root(c.oid)) AS root_schema,
    (SELECT r.relname FROM pg_class r WHERE c.relispartition AND r.oid = pg_partition_root(c.oid)) AS root_table,
    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND NOT i.indimmediate) AS deferrable_pk
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'f')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

/** Why a table's changes never reach the slot, or undefined when they do. */
function notLogged(kind: string, persistence: string): string | undefined {
  if (kind === 'f') return 'a foreign table';
  if (persistence === 'u') return 'unlogged';
  if (persistence === 't') return 'temporary';
  return undefined;
}

/** One row of TABLES_SQL, read. */
interface Listed {
  oid: string;
  schema: string;
  table: string;
  identity: ReplicaIdentity;
  hasPk: boolean;
  partitioned: boolean;
  unlogged: string | undefined;
  /** The partition's root, shown as shownName shows it; null for a table that is not a partition. */
  root: string | null;
  /** Its primary key is DEFERRABLE, so no key (see TABLES_SQL): said where it is refused or skipped. */
  deferrable: boolean;
}

/**
 * Lists the source's tables (TABLES_SQL), only those named in `only` when given: a start with
 * --tables, or one table looked up while streaming, reads a few rows, not every table of the database.
 */
async function listTables(query: QueryFn, only: readonly TableRef[] | undefined): Promise<Listed[]> {
  const filter =
    only && only.length > 0
      ? ` AND (n.nspname::text, c.relname::text) IN (VALUES ${only.map((t) => `(${quoteLiteral(t.schema)}, ${quoteLiteral(t.table)})`).join(', ')})`
      : '';
  const all = await query(TABLES_SQL + filter);
  return all.map((r) => ({
    oid: r[0] ?? '',
    schema: r[1] ?? '',
    table: r[2] ?? '',
    identity: IDENTITY[r[3] ?? 'd'] ?? 'default',
    hasPk: r[4] === 't',
    partitioned: r[5] === 'p',
    unlogged: notLogged(r[5] ?? 'r', r[6] ?? 'p'),
    root: r[7] == null || r[8] == null ? null : shownName({ schema: r[7], table: r[8] }),
    deferrable: r[9] === 't',
  }));
}

/** Whether wal2json reports which row an UPDATE or DELETE of the table touched. */
const usable = (r: Listed): boolean =>
  (r.hasPk && r.identity === 'default') || r.identity === 'full' || r.identity === 'index';

/**
 * For each of `tables` that exists as a table of its own (refKey; a partition is none): whether it
 * can be replicated now (a row identity wal2json reports, and logged). What the all-tables start
 * judges, for tables skipped while streaming and looked at again.
 */
export async function replicableNow(
  query: QueryFn,
  tables: readonly TableRef[],
): Promise<Map<string, boolean>> {
  if (tables.length === 0) return new Map();
  const rows = await listTables(query, tables);
  return new Map(rows.filter((r) => !r.root).map((r) => [refKey(r), usable(r) && !r.unlogged]));
}

/**
 * Resolves the chosen tables (all tables with a key or FULL identity when none given). In all-tables
 * mode `skipped` is told each table left out for want of a row identity (the warning's), from the same
 * listing: the start looks at them again while streaming (skipped-new.ts).
 */
export async function readSourceTables(
  query: QueryFn,
  chosen: readonly TableRef[] | undefined,
  warn?: (msg: string) => void,
  skipped?: (t: SkippedTable) => void,
): Promise<SourceTable[]> {
  const rows = await listTables(query, chosen);
  const named = (r: Listed) =>
    r.deferrable && !r.hasPk ? `${shownName(r)} (its primary key is DEFERRABLE)` : shownName(r);
  let picked: Listed[];
  let noIdentity: Listed[] = [];
  if (chosen && chosen.length > 0) {
    const missing: string[] = [];
    picked = chosen.map((t) => {
      const row = rows.find((r) => r.schema === t.schema && r.table === t.table);
      if (!row) missing.push(shownName(t));
      return row as Listed;
    });
    const leaf = picked.find((r) => r?.root);
    if (leaf) {
      throw new CatalogError(
        `table ${shownName(leaf)} is a partition of ${leaf.root}: name ${leaf.root} in --tables (a partitioned table is replicated as one table, its partitions' changes included)`,
        'WALDUCK_UNKNOWN_TABLE',
      );
    }
    const stale = picked.find((r) => r?.unlogged);
    if (stale) {
      throw new CatalogError(
        `table ${shownName(stale)} is ${stale.unlogged}: its changes never reach WAL, so a replica would go stale; leave it out of --tables${stale.unlogged === 'unlogged' ? ' or run ALTER TABLE ... SET LOGGED' : ''}`,
        'WALDUCK_NO_IDENTITY',
      );
    }
    if (missing.length > 0) {
      throw new CatalogError(
        `unknown table ${missing.join(', ')} on the source: check the name (schema.table; unquoted names are lower-cased) and that the role may see it`,
        'WALDUCK_UNKNOWN_TABLE',
      );
    }
  } else {
    const roots = rows.filter((r) => !r.root);
    picked = roots.filter((r) => usable(r) && !r.unlogged);
    noIdentity = roots.filter((r) => !usable(r) && !r.unlogged);
    const unlogged = roots.filter((r) => r.unlogged).map((r) => `${shownName(r)} (${r.unlogged})`);
    // Said, not silent: a table with a primary key but REPLICA IDENTITY NOTHING looks replicable.
    if (noIdentity.length > 0 && picked.length > 0)
      warn?.(
        `not replicating ${noIdentity.map(named).join(', ')}: no primary key or replica identity (or REPLICA IDENTITY NOTHING; a DEFERRABLE primary key is none), so their updates and deletes are not logged; give them a primary key, and each is copied online: within about a second while walduck runs, else at the next start`,
      );
    if (unlogged.length > 0 && picked.length > 0)
      warn?.(`not replicating ${unlogged.join(', ')}: their changes never reach WAL`);
    if (picked.length === 0) {
      throw new CatalogError(
        'no table with a primary key or replica identity on the source: name tables with --tables',
        'WALDUCK_NO_TABLES',
      );
    }
  }
  const tables: SourceTable[] = [];
  const gone: string[] = [];
  for (const r of picked) {
    const read = await readColumns(query, r.oid, r.schema, r.table, r.identity, r.hasPk);
    if (read) tables.push({ ...read, ...(r.partitioned ? { partitioned: true } : {}) });
    else gone.push(shownName(r));
  }
  // Dropped between the listing and the reading of its columns. Named in --tables: it does not exist.
  // Among all tables: it is no longer one of them, and it has no rows anywhere to lose.
  if (gone.length > 0 && chosen && chosen.length > 0)
    throw new CatalogError(
      `table ${gone.join(', ')} does not exist on the source (dropped while walduck read the catalog)`,
      'WALDUCK_UNKNOWN_TABLE',
    );
  if (tables.length === 0)
    throw new CatalogError(
      'no table with a primary key or replica identity on the source: name tables with --tables',
      'WALDUCK_NO_TABLES',
    );
  const nothing = tables.filter((t) => t.identity === 'nothing');
  if (nothing.length > 0) {
    const names = nothing.map((t) => shownName(t)).join(', ');
    throw new CatalogError(
      `table ${names} has REPLICA IDENTITY NOTHING, so PostgreSQL does not log which row an UPDATE or DELETE touched (wal2json drops them): run ALTER TABLE ... REPLICA IDENTITY DEFAULT (with a primary key) or FULL`,
      'WALDUCK_NO_IDENTITY',
    );
  }
  const unusable = tables.filter((t) => t.key.length === 0 && t.identity !== 'full');
  if (unusable.length > 0) {
    const deferrable = unusable.filter((t) => rows.find((r) => r.oid === t.oid)?.deferrable);
    if (deferrable.length > 0)
      throw new CatalogError(
        `table ${deferrable.map((t) => shownName(t)).join(', ')} has a DEFERRABLE primary key, which PostgreSQL does not log as the row's identity, so it does not log which row an UPDATE or DELETE touched (wal2json drops them): make the key NOT DEFERRABLE or run ALTER TABLE ... REPLICA IDENTITY FULL`,
        'WALDUCK_NO_IDENTITY',
      );
    const names = unusable.map((t) => shownName(t)).join(', ');
    throw new CatalogError(
      `table ${names} has no primary key and no REPLICA IDENTITY FULL, so PostgreSQL does not log which row an UPDATE or DELETE touched (wal2json drops them): add a primary key or run ALTER TABLE ... REPLICA IDENTITY FULL`,
      'WALDUCK_NO_IDENTITY',
    );
  }
  for (const r of noIdentity) skipped?.({ schema: r.schema, table: r.table, oid: r.oid });
  return tables;
}
