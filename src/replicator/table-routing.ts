// The replicator's side of table routing: a second, ordinary connection for catalog lookups while the
// replication connection streams, the router over it, and the add-tables filter wal2json gets.
//
// Filtering: with only plain tables named in --tables, wal2json's add-tables drops everything else on
// the server. A partitioned table's leaves can appear at any time (CREATE TABLE … PARTITION OF, ATTACH)
// under any name and schema, and in all-tables mode any new table may be ours, so then the server sends
// every table's changes and walduck filters by the table set (unknown names cost one catalog lookup,
// then a map lookup per change).

import { type Connection, type ConnectionSettings, connect, type LogFn } from '../protocol/index.js';
import type { QueryFn, SourceTable } from '../source/catalog.js';
import { keyOrderProblem } from '../source/key-order.js';
import { checkLeafIdentity, type Leaf, readLeaves, refKey, TableRouter } from '../source/partitions.js';
import type { TableRef } from '../wal2json/change.js';

export interface Routing {
  readonly router: TableRouter;
  readonly leaves: readonly Leaf[];
  /** The highest pg_class oid now: a relation with a higher one was created after this start. */
  readonly maxOid: bigint;
  readonly query: QueryFn;
  /** add-tables for wal2json, or undefined: every table, filtered in walduck. */
  readonly filter: readonly TableRef[] | undefined;
  close(): Promise<void>;
}

export async function openRouting(
  settings: ConnectionSettings,
  tables: readonly SourceTable[],
  o: {
    allTables: boolean;
    log: LogFn;
    warn: (msg: string) => void;
    onLeaf: (leaf: Leaf) => void;
    onLeafGone: (leaf: Leaf) => void;
    onTableGone: (t: SourceTable) => void;
  },
): Promise<Routing> {
  let conn: Connection | undefined;
  // Opened on first use: a replica of plain tables never needs it.
  const query: QueryFn = async (sql) => {
    conn ??= await connect(settings, { replication: false, log: o.log });
    return (await conn.query(sql))[0]?.rows ?? [];
  };
  const roots = new Set(tables.filter((t) => t.partitioned).map(refKey));
  const leaves = roots.size > 0 ? await readLeaves(query, roots) : [];
  leaves.forEach(checkLeafIdentity);
  for (const l of leaves)
    o.log(`partition ${l.schema}.${l.table} routed to ${l.root.schema}.${l.root.table}`);
  const existing = new Set(
    (
      await query(
        `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f')`,
      )
    ).map((r) => refKey({ schema: r[0] ?? '', table: r[1] ?? '' })),
  );
  const maxOid = BigInt((await query('SELECT max(oid::int8) FROM pg_class'))[0]?.[0] ?? '0');
  const router = new TableRouter(query, new Map(tables.map((t) => [refKey(t), t])), leaves, {
    allTables: o.allTables,
    existing,
    onLeaf: o.onLeaf,
    onLeafGone: o.onLeafGone,
    onTableGone: o.onTableGone,
    copyProblem: keyOrderProblem,
    log: o.log,
    warn: o.warn,
  });
  const filter = o.allTables || roots.size > 0 ? undefined : tables;
  return {
    router,
    leaves,
    maxOid,
    query,
    filter,
    close: async () => {
      await conn?.close().catch(() => {});
    },
  };
}
