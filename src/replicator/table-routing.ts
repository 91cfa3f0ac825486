// The replicator's side of table routing: a second, ordinary connection for catalog lookups while the
// replication connection streams, and the router over it.
//
// Filtering: into DuckDB, the server sends every table's changes and walduck filters by the table set
// (an unknown name costs one catalog lookup, then a map lookup per change). wal2json's add-tables would
// drop the others on the server, but it matches names: after ALTER TABLE a RENAME TO b it would drop
// b's changes, silently, so a rename could not be followed (source/partitions.ts). A partitioned
// table's leaves can also appear at any time under any name, and in all-tables mode any new table may
// be ours. A caller's own sink, which has no table set to follow renames with, keeps add-tables for
// plain tables named in --tables: it gets what it asked for, by name.
import type { ConnectionSettings, LogFn } from '../protocol/index.js';
import type { QueryFn, SourceTable } from '../source/catalog.js';
import { keyOrderProblem } from '../source/key-order.js';
import type { Leaf } from '../source/leaf.js';
import { checkLeafIdentity, readLeaves } from '../source/leaves.js';
import { TableRouter } from '../source/partitions.js';
import type { TableRef } from '../wal2json/change.js';
import { refKey } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { sideQuery } from './side-query.js';

/** A catalog lookup is one small query: past this, the link is taken for half-open. */
const LOOKUP_TIMEOUT_MS = 30_000;

export interface Routing {
  readonly router: TableRouter;
  readonly leaves: readonly Leaf[];
  /** The highest pg_class oid now: a relation with a higher one was created after this start. */
  readonly maxOid: bigint;
  readonly query: QueryFn;
  /** add-tables for wal2json, or undefined: every table, filtered in walduck (see above). */
  readonly filter: readonly TableRef[] | undefined;
  close(): Promise<void>;
}

export async function openRouting(
  settings: ConnectionSettings,
  tables: readonly SourceTable[],
  o: {
    allTables: boolean;
    /** The sink follows renames (DuckDB): every table's changes are needed, not add-tables. */
    followRenames: boolean;
    log: LogFn;
    warn: (msg: string) => void;
    onLeaf: (leaf: Leaf) => void;
    onLeafGone: (leaf: Leaf) => void;
    onTableGone: (t: SourceTable) => void;
    onTableReplaced: (t: SourceTable) => void;
    onTableSkipped: (t: TableRef, oid: string, why: string) => void;
    /** Why a table cannot land in DuckDB (sink/landing-problem.ts): one joining is skipped then. */
    refusal?: (t: SourceTable) => string | undefined;
  },
): Promise<Routing> {
  // Opened on first use (the once-a-second check of the followed tables' oids uses it). On a half-open
  // link a lookup fails after LOOKUP_TIMEOUT_MS, and the replicator retries it as it does a cut.
  const side = sideQuery(settings, { timeoutMs: LOOKUP_TIMEOUT_MS, connectTimeoutMs: 10_000, log: o.log });
  const query = side.query;
  const roots = new Set(tables.filter((t) => t.partitioned).map(refKey));
  const leaves = roots.size > 0 ? await readLeaves(query, roots) : [];
  leaves.forEach(checkLeafIdentity);
  for (const l of leaves) o.log(`partition ${shownName(l)} routed to ${shownName(l.root)}`);
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
    onTableReplaced: o.onTableReplaced,
    onTableSkipped: o.onTableSkipped,
    copyProblem: keyOrderProblem,
    ...(o.refusal ? { refusal: o.refusal } : {}),
    log: o.log,
    warn: o.warn,
  });
  // Before streaming: a rename found later is one made while walduck streams (partitions.ts).
  await router.startCheck();
  const filter = o.allTables || o.followRenames || roots.size > 0 ? undefined : tables;
  return {
    router,
    leaves,
    maxOid,
    query,
    filter,
    close: () => side.close().catch(() => {}),
  };
}
