// Partitions as the source catalog shows them: the leaf partitions (at any depth) of the replicated
// partitioned tables, which wal2json names instead of their root (partitions.ts routes them), and the
// check that a leaf's WAL records say which row an UPDATE or DELETE touched; the leaves the router
// knows, adopted when they join a root and taken out when they leave it. The names and the error the
// router's files share are in leaf.ts.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import type { QueryFn, SourceTable } from './catalog.js';
import { type Leaf, PartitionError } from './leaf.js';
import { qualified, quoteLiteral } from './quote.js';
import type { Recopies } from './recopies.js';
import { readSourceTables } from './source-tables.js';

const LEAVES_SQL = `SELECT l.oid, ln.nspname, l.relname, rn.nspname, r.relname, pg_get_partition_constraintdef(l.oid),
    l.relreplident, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = l.oid AND (i.indisprimary OR i.indisreplident))
  FROM pg_class l JOIN pg_namespace ln ON ln.oid = l.relnamespace
  JOIN pg_class r ON r.oid = pg_partition_root(l.oid) JOIN pg_namespace rn ON rn.oid = r.relnamespace
  WHERE l.relispartition AND l.relkind = 'r'`;

/** Leaf partitions (at any depth) of the given roots, or of every root when `roots` is undefined. */
export async function readLeaves(
  query: QueryFn,
  roots: ReadonlySet<string> | undefined,
  where = '',
): Promise<Leaf[]> {
  const out: Leaf[] = [];
  for (const r of await query(LEAVES_SQL + where)) {
    const root = { schema: r[3] ?? '', table: r[4] ?? '' };
    if (roots && !roots.has(refKey(root))) continue;
    out.push({
      oid: r[0] ?? '',
      schema: r[1] ?? '',
      table: r[2] ?? '',
      root,
      constraint: r[5] ?? null,
      identityOk: r[6] === 'f' || (r[6] !== 'n' && r[7] === 't'),
    });
  }
  return out;
}

/** Refuses a leaf whose WAL records would not say which row an UPDATE or DELETE touched. */
export function checkLeafIdentity(leaf: Leaf): void {
  if (leaf.identityOk) return;
  throw new PartitionError(
    `partition ${shownName(leaf)} of ${shownName(leaf.root)} has no primary key and no REPLICA IDENTITY FULL (or has NOTHING), so its updates and deletes are not logged with their key: give the partitioned table a primary key, or run ALTER TABLE ${shownName(leaf)} REPLICA IDENTITY FULL`,
    'WALDUCK_PARTITION_IDENTITY',
  );
}

/** A table created at the source while walduck runs, with its leaves (each checked) when partitioned. */
export async function readNewTable(
  query: QueryFn,
  ref: TableRef,
): Promise<{ table: SourceTable; leaves: Leaf[] } | undefined> {
  const [table] = await readSourceTables(query, [ref]);
  if (!table) return undefined;
  const leaves = table.partitioned ? await readLeaves(query, new Set([refKey(ref)])) : [];
  leaves.forEach(checkLeafIdentity);
  return { table, leaves };
}

/** What the leaves share with the router (its own sets, by reference) and whom they tell. */
export interface LeafContext {
  readonly query: QueryFn;
  /** Names decided at start (all-tables mode). */
  readonly existing: ReadonlySet<string>;
  /** Names whose changes were dropped as not ours: one of them turning up as a leaf later has missed rows. */
  readonly ignored: Set<string>;
  readonly recopies: Recopies;
  readonly log: (msg: string) => void;
  /** Told when a partition joins a replicated root while streaming. */
  readonly onLeaf?: ((leaf: Leaf) => void) | undefined;
  /** Told when a partition leaves its root while streaming (DETACH, DROP). */
  readonly onLeafGone?: ((leaf: Leaf) => void) | undefined;
  /**
   * Told when a partition left its root by a DETACH (it still exists), with the table it is under now
   * (itself, or a partitioned table detached with it) and that table's oid.
   */
  readonly onDetached?: ((leaf: Leaf, top: TableRef, oid: string) => void) | undefined;
}

/**
 * The table relation `oid` is under now, up its pg_inherits chain: its oid, schema and name (a
 * partition detached with a partitioned table between it and the root ends under that table).
 */
function topNow(oid: string): string {
  return `WITH RECURSIVE up(oid) AS (SELECT ${quoteLiteral(oid)}::oid UNION ALL SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid) SELECT c.oid::int8, n.nspname, c.relname FROM up JOIN pg_class c ON c.oid = up.oid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = up.oid)`;
}

/** The leaves routed to a replicated root, by refKey. */
export class PartitionLeaves extends Map<string, Leaf> {
  constructor(
    leaves: readonly Leaf[],
    private readonly c: LeafContext,
  ) {
    super();
    for (const l of leaves) this.set(refKey(l), l);
  }

  /** The oids of every leaf routed in this run: one no longer a leaf was detached (or dropped). */
  private readonly everOids = new Set<string>();

  override set(k: string, leaf: Leaf): this {
    this.everOids.add(leaf.oid);
    return super.set(k, leaf);
  }

  /** Whether the relation of oid `oid` was a leaf routed in this run. */
  wasLeaf(oid: string): boolean {
    return this.everOids.has(oid);
  }

  /** The leaves routed to `root`. */
  of(root: TableRef): Leaf[] {
    const k = refKey(root);
    return [...this.values()].filter((l) => refKey(l.root) === k);
  }

  /**
   * A leaf walduck did not know. Created as a partition after the table set was read, every row it
   * holds went through WAL. Attached after existing on its own, the rows it held before the ATTACH
   * never appear in WAL as the root's: re-copy the root, or stop, rather than leave it short of them.
   */
  async adopt(leaf: Leaf): Promise<void> {
    checkLeafIdentity(leaf);
    const k = refKey(leaf);
    if (this.c.existing.has(k) || this.c.ignored.has(k)) {
      const rows = await this.c.query(
        `SELECT EXISTS (SELECT 1 FROM ONLY ${qualified(leaf.schema, leaf.table)})`,
      );
      if (rows[0]?.[0] === 't') this.c.recopies.attachedWithRows(leaf);
    }
    this.c.ignored.delete(k);
    this.set(k, leaf);
    this.c.onLeaf?.(leaf);
    this.c.log(`partition ${shownName(leaf)} routed to ${shownName(leaf.root)}`);
  }

  /** Reads the leaves of `roots` again: new ones are adopted; one gone (DETACH, DROP) re-copies its root. */
  async refresh(roots: ReadonlySet<string>): Promise<void> {
    const now = await readLeaves(this.c.query, roots);
    const seen = new Set(now.map(refKey));
    const leafOids = new Set(now.map((l) => l.oid));
    for (const [k, leaf] of this) {
      if (seen.has(k)) continue;
      // By oid, not name: a partition detached and renamed (archived) is still there, a table of its
      // own, and taken for dropped it was later streamed as a new table without the rows it held.
      // One renamed but still attached is a leaf under its new name (adopted below), not detached.
      const attached = leafOids.has(leaf.oid);
      const still =
        attached ||
        (await this.c.query(`SELECT 1 FROM pg_class WHERE oid = ${quoteLiteral(leaf.oid)}::oid`)).length > 0;
      // A DETACH or a DROP of a partition is not in WAL: its rows left the root silently.
      this.c.recopies.leafGone(leaf, !still);
      // Its changes from now on are not the root's (the copy's merge drops them until its first chunk).
      this.delete(k);
      this.c.ignored.add(k);
      this.c.onLeafGone?.(leaf);
      if (still && !attached && this.c.onDetached) {
        const [top] = await this.c.query(topNow(leaf.oid));
        if (top?.[0] && top[1] && top[2]) this.c.onDetached(leaf, { schema: top[1], table: top[2] }, top[0]);
      }
    }
    for (const l of now) if (!this.has(refKey(l))) await this.adopt(l);
  }
}
