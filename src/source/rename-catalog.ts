// The router's renames as the source catalog shows them (partitions.ts follows them in the stream):
// the reads that find a followed table under a new name (at start, at each catalog check, and when a
// change arrives under the new name), what is recorded with each (the WAL position, the renaming
// transaction, whether another table took the old name), and the waits and stops that keep a rename's
// place exact: the catalog read that must see every streamed transaction, the batch that may not be
// committed while a rename made while walduck was stopped is unsettled. The pending renames themselves
// and their rules are in renames.ts.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { SINCE_LAST_COMMIT } from '../wal2json/since-last-commit.js';
import type { QueryFn, SourceTable } from './catalog.js';
import { PartitionError } from './leaf.js';
import { quoteLiteral } from './quote.js';
import { MOVING_XID, type PendingRename, PendingRenames, RENAMING_XID, renamingXidOf } from './renames.js';
import type { OpenBatch } from './routing.js';
import { RowTypeRewrites, SLOT_HORIZONS, TYPE_AGE, TYPE_XMIN } from './row-type-rewrites.js';

/** Every relation kind: a name held by any of them is taken (another table under a followed one's old name). */
export const ANY_RELATION = `'r', 'p', 'v', 'm', 'f', 'S', 'i', 'I', 'c'`;

/** The oid of the relation of one of `kinds` named `ref` now (a table or partitioned table by default). */
export async function oidOf(query: QueryFn, ref: TableRef, kinds = `'r', 'p'`): Promise<string | undefined> {
  const rows = await query(
    `SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${quoteLiteral(ref.schema)} AND c.relname = ${quoteLiteral(ref.table)} AND c.relkind IN (${kinds})`,
  );
  return rows[0]?.[0] ?? undefined;
}

/**
 * Changes under `ref`, a name no relation has now, while `ahead` (a followed table's rename) is still
 * ahead in the stream: they may be that table's under a name it held in between, never to be dropped.
 */
export function renamedInBetween(ref: TableRef, ahead: PendingRename): PartitionError {
  return new PartitionError(
    `changes of ${shownName(ref)} cannot be followed: no table has that name now, and ${shownName(ahead.from)} was renamed to ${shownName(ahead.to)} at the source after them, so they may be its rows under a name it held in between (renamed more than once, or renamed and dropped, before walduck read them); to go on, run walduck resync --table ${shownName(ahead.from)} (its recorded name) and start walduck again with ${shownName(ahead.to)} instead of ${shownName(ahead.from)} in --tables: ${shownName(ahead.to)} is then copied online and ${shownName(ahead.from)} left stopped in DuckDB (--drop-removed drops it)`,
    'WALDUCK_TABLE_RENAMED',
  );
}

export class CatalogRenames {
  /** Renames the catalog shows and the stream has not reached yet. */
  readonly pending: PendingRenames;
  /** The sink's open batch (useBatch): the transactions the stream committed since its last commit. */
  batch: OpenBatch | undefined;
  /** The followed tables' row type rewrites the stream has not reached (renamed away and back). */
  readonly rewrites = new RowTypeRewrites((xid) => this.batch?.has(xid) ?? false);
  /** Each followed table's owner (pg_class.relowner) at the last catalog check under its name. */
  private readonly owners = new Map<string, string>();
  /** Whether the start's look for tables renamed while walduck was stopped was made. */
  private startChecked = false;

  constructor(
    private readonly query: QueryFn,
    private readonly log: (msg: string) => void,
  ) {
    this.pending = new PendingRenames((xid) => this.batch?.has(xid) ?? false);
  }

  /**
   * Once, at start before streaming (a no-op later): the followed tables renamed while walduck was
   * stopped (followed under their recorded names, named otherwise now) are placed by their renaming
   * transaction, with the WAL insert position read after the catalog (renames.ts, atStart). Made
   * later, it would take a rename made while walduck streams for one made while it was stopped.
   */
  async atStart(followed: Iterable<SourceTable>): Promise<void> {
    if (this.startChecked) return;
    this.startChecked = true;
    const byOid = new Map<string, SourceTable>();
    for (const t of followed) if (t.oid && /^\d+$/.test(t.oid)) byOid.set(t.oid, t);
    if (byOid.size === 0) return;
    const rows = await this.query(
      `SELECT c.oid::int8, n.nspname, c.relname, ${RENAMING_XID}, pg_current_wal_insert_lsn()::text, ${MOVING_XID}, ${TYPE_XMIN}, ${TYPE_AGE}, ${SLOT_HORIZONS} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid IN (${[...byOid.keys()].join(', ')})`,
    );
    for (const r of rows) {
      this.rewrites.atStart(r[0] ?? '', r[6], r[7], r[8], r[4] ?? '');
      const t = byOid.get(r[0] ?? '');
      const now = { schema: r[1] ?? '', table: r[2] ?? '' };
      if (!t || refKey(now) === refKey(t)) continue;
      // Another relation under the old name (a swap while stopped): placed by its transaction too.
      const reused = (await oidOf(this.query, t, ANY_RELATION)) !== undefined;
      const xid = renamingXidOf(t, now, r[3], r[5]);
      this.pending.sawAtStart(t.oid ?? '', t, now, r[4] ?? '', xid, reused);
      this.log(
        `table ${shownName(t)} was renamed to ${shownName(now)} ${SINCE_LAST_COMMIT}: the rename is placed at its renaming transaction (xid ${xid ?? 'unknown'})`,
      );
    }
  }

  /**
   * The catalog check's read of the followed tables (`byOid`) by oid: each one under a new name is
   * recorded as a pending rename (`taken`: whether a name carried another table's changes in this
   * stream). Returns the oids the catalog no longer has (dropped).
   */
  async check(
    byOid: ReadonlyMap<string, SourceTable>,
    taken: (key: string) => boolean,
  ): Promise<Set<string>> {
    // The WAL insert position is read after the catalog snapshot: a rename seen committed before it
    // (the insert position, not the write one: see renames.ts).
    const rows = await this.query(
      `SELECT c.oid::int8, n.nspname, c.relname, pg_current_wal_insert_lsn()::text, ${RENAMING_XID}, c.relowner::text, ${MOVING_XID}, ${TYPE_XMIN} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid IN (${[...byOid.keys()].join(', ')})`,
    );
    const gone = new Set(byOid.keys());
    for (const r of rows) {
      const oid = r[0] ?? '';
      this.rewrites.read(oid, r[7], r[3] ?? '');
      const t = byOid.get(oid);
      if (!t) continue;
      gone.delete(oid);
      const now = { schema: r[1] ?? '', table: r[2] ?? '' };
      if (refKey(now) === refKey(t)) {
        this.pending.drop(oid);
        if (r[5]) this.owners.set(oid, r[5]);
        continue;
      }
      // Another relation under the old name: the rename must be placed exactly (renames.ts). So too
      // when the new name carried another table's changes in this stream (the mirror).
      const reused = (await oidOf(this.query, t, ANY_RELATION)) !== undefined;
      if (
        this.pending.saw(
          oid,
          t,
          now,
          r[3] ?? '',
          this.renamingXid(oid, t, now, r[4], r[5], r[6]),
          reused,
          taken(refKey(now)),
        )
      )
        this.log(
          `table ${shownName(t)} is named ${shownName(now)} in the source catalog: the rename is followed where the stream reaches it`,
        );
    }
    return gone;
  }

  /**
   * Before following a rename found through a change under the new name: when another table has taken
   * the old name, changes under it since the rename may be that table's, already applied to the
   * renamed one. Unless the rename was placed by its transaction (renames.ts), the open batch is read
   * again (a transient failure the replicator recovers from by reconnecting), this time knowing it.
   * True when even that could not place it (a later DDL of the table hid the renaming transaction).
   */
  async placeable(was: SourceTable, to: TableRef, oid: string): Promise<boolean> {
    if ((await oidOf(this.query, was, ANY_RELATION)) === undefined) return false;
    const [row] = await this.query(
      `SELECT ${RENAMING_XID}, pg_current_wal_insert_lsn()::text, c.relowner::text, ${MOVING_XID} FROM pg_class c WHERE c.oid = ${oid}`,
    );
    this.pending.saw(
      oid,
      was,
      to,
      row?.[1] ?? '',
      this.renamingXid(oid, was, to, row?.[0], row?.[2], row?.[3]),
      true,
    );
    if (this.pending.arm())
      throw new PartitionError(
        `table ${shownName(was)} was renamed to ${shownName(to)} and another table took the name ${shownName(was)}: reading the open batch again from the last commit, to place the rename exactly`,
        'WALDUCK_RENAME_REPLAY',
      );
    return true;
  }

  /**
   * RENAMING_XID as read now, or null when it cannot name the renaming transaction: the owner changed
   * since the last check under the old name, so an OWNER TO may have rewritten the row type after the
   * rename (the witnesses in RENAMING_XID miss a table with no index and no TOAST table whose new
   * owner is the bootstrap superuser). An OWNER TO before the rename costs a needless re-copy only.
   * A move to another schema under the same name is named by MOVING_XID, which no OWNER TO rewrites.
   */
  private renamingXid(
    oid: string,
    from: TableRef,
    to: TableRef,
    xmin: string | null | undefined,
    owner: string | null | undefined,
    moved: string | null | undefined,
  ): string | null {
    if (from.table === to.table && from.schema !== to.schema && moved) return moved;
    const before = this.owners.get(oid);
    return before !== undefined && owner != null && owner !== before ? null : (xmin ?? null);
  }

  /**
   * Waits until every transaction of the open batch is visible to a new catalog snapshot. The stream
   * hands out a transaction once its commit record is in the WAL, which is before the committing
   * backend makes it visible to other sessions: on a busy machine a catalog read right after it may not
   * see its DDL yet. A swap in such a transaction, unseen by the check before the DuckDB commit, would
   * lie in a committed batch unknown, and the new table's changes under the old name went to the
   * renamed one.
   */
  async untilVisible(): Promise<void> {
    if (!this.batch || this.batch.size === 0) return;
    for (let waited = 0; ; waited += VISIBLE_POLL_MS) {
      const [row] = await this.query('SELECT pg_current_snapshot()::text');
      const unseen = invisible(this.batch.xids, row?.[0] ?? '');
      if (unseen === undefined) {
        if (waited > 0)
          this.log(`catalog check waited ${waited} ms for streamed transactions to become visible`);
        return;
      }
      if (waited >= VISIBLE_WAIT_MS)
        throw new PartitionError(
          `source transaction ${unseen}, already streamed, is still not visible to a catalog read after ${VISIBLE_WAIT_MS / 1000} s: the open batch is read again from the last commit`,
          'WALDUCK_RENAME_REPLAY',
        );
      await new Promise((r) => setTimeout(r, VISIBLE_POLL_MS));
    }
  }

  /**
   * The stream has passed WAL position `lsn` (a commit at or after it, or a keepalive). A table renamed
   * while walduck was stopped whose renaming commit was not seen by then was renamed before the resume
   * position (renames.ts): the changes under its new name left out in the open batch were its own, and
   * the batch is read again from the last commit, knowing it.
   */
  streamPassed(lsn: bigint): void {
    this.rewrites.passed(lsn);
    const [p] = this.pending.reached(lsn);
    if (p)
      throw new PartitionError(
        `table ${shownName(p.from)} was renamed to ${shownName(p.to)} before the position walduck resumed from: reading the open batch again from the last commit, with the rename applied there (its changes under ${shownName(p.to)} its own, those under ${shownName(p.from)} another table's)`,
        'WALDUCK_RENAME_REPLAY',
      );
  }

  /**
   * True while no DuckDB commit may be made: changes under the new name of a table renamed while
   * walduck was stopped were left out, and whose they were is not settled yet (renames.ts). Stops
   * rather than hold a batch of more than HOLD_MAX_XIDS source transactions open (bounded memory).
   */
  holding(): boolean {
    const p = this.pending.holding();
    if (!p) return false;
    if ((this.batch?.size ?? 0) > HOLD_MAX_XIDS)
      throw new PartitionError(
        `table ${shownName(p.from)} was renamed to ${shownName(p.to)} ${SINCE_LAST_COMMIT}, and walduck cannot tell within ${HOLD_MAX_XIDS} source transactions whether the changes under ${shownName(p.to)} are its own or those of a table that had the name before: run walduck resync --table ${shownName(p.from)} (its recorded name), then start walduck with ${shownName(p.to)} in --tables (it is copied online)`,
        'WALDUCK_TABLE_RENAMED',
      );
    return true;
  }
}

/** The most source transactions a batch is held open for (holding) before walduck stops. */
const HOLD_MAX_XIDS = 100_000;

/** How long untilVisible waits for streamed transactions to become visible to the catalog, and how often it looks. */
const VISIBLE_WAIT_MS = 10_000;
const VISIBLE_POLL_MS = 5;

/**
 * The first of `xids` (32-bit, as wal2json gives them) not visible in `snapshot` (pg_current_snapshot()
 * as text, 'xmin:xmax:xip,…' in 64-bit xids), or undefined when all are. A streamed transaction has
 * committed, so it is visible unless it is at or past xmax or still listed as running.
 */
export function invisible(xids: Iterable<number>, snapshot: string): number | undefined {
  const [, xmaxText, xipText = ''] = snapshot.split(':');
  if (xmaxText === undefined || !/^\d+$/.test(xmaxText))
    throw new PartitionError(`unexpected snapshot ${snapshot}`, 'WALDUCK_RENAME_REPLAY');
  const low = (v: string) => Number(BigInt(v) & 0xffffffffn);
  const xmax = low(xmaxText);
  const running = new Set(xipText === '' ? [] : xipText.split(',').map(low));
  // 32-bit xids compare modulo 2^32, as PostgreSQL's TransactionIdPrecedes does.
  for (const x of xids) if (((x - xmax) | 0) >= 0 || running.has(x)) return x;
  return undefined;
}
