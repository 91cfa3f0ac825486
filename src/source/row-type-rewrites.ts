// A followed table renamed away and back (t -> t2 -> t, in one transaction or several, while walduck
// runs or while it is stopped) is under its own name again in the catalog, so no rename is pending,
// yet the stream carries its changes made in between under t2, a name no relation has now. Dropped
// as another table's, they were lost silently (verify: DIFFERENT).
//
// What the catalog keeps of it: every RENAME and SET SCHEMA rewrites the table's row type (pg_type),
// so its xmin is the transaction of the last one (or of a later OWNER TO, see renames.ts). While the
// stream has not reached that transaction, the table may have held other names at the stream's
// position, and a change under a name no relation has now may be its own. Once the stream committed
// that transaction, or passed the WAL insert position read with it (its commit lies before), every
// later change of the table is under its name now. At start, a row type written before the oldest
// catalog_xmin of walduck's slot was written before the position the stream resumes from (the
// catalog_xmin is the oldest transaction still running where the slot may restart; every older one
// ended before it), so only a rewrite after that horizon is unreached. A table first read by a check
// while walduck runs (joined since) is unreached until the stream passes that read, unless the open
// batch holds its transaction.
//
// The router re-copies such a table online when a change under a vanished name arrives while its
// rewrite is unreached (partitions.ts): it cannot tell the change from a dropped table's. A table given
// to another owner shortly before a table of the workload is dropped costs a needless copy.

import { type Lsn, parseLsn } from '../protocol/lsn.js';

/** The xmin of table `c`'s row type (SQL over pg_class c). */
export const TYPE_XMIN = '(SELECT ty.xmin::text FROM pg_type ty WHERE ty.oid = c.reltype)';

/** How many transactions ago table `c`'s row type was written (SQL over pg_class c; age() is stable in a statement). */
export const TYPE_AGE = '(SELECT age(ty.xmin)::text FROM pg_type ty WHERE ty.oid = c.reltype)';

/** The database's logical slots' catalog_xmin ages, as JSON {slot: age}, in the same statement as TYPE_AGE. */
export const SLOT_HORIZONS = `(SELECT json_object_agg(s.slot_name, age(s.catalog_xmin))::text FROM pg_replication_slots s
  WHERE s.slot_type = 'logical' AND s.database = current_database() AND s.catalog_xmin IS NOT NULL)`;

interface Unreached {
  readonly xid: number;
  /** The WAL insert position read with the catalog that showed it: its commit lies before. */
  readonly at: Lsn;
}

export class RowTypeRewrites {
  /** Each followed table's row type xmin at the last catalog read. */
  private readonly last = new Map<string, string>();
  /** Tables whose last rewrite the stream has not reached. */
  private readonly unreached = new Map<string, Unreached>();
  /** Reached in the open batch: a rollback makes them unreached again (the replay meets them again). */
  private readonly learnt = new Map<string, Unreached>();
  /** Read at start, until the slot is known: each rewrite with its age, and the slots' horizons. */
  private readonly undecided = new Map<string, Unreached & { readonly age: number }>();
  private horizons: Record<string, number> = {};

  /** `inBatch`: whether the stream committed a transaction in the open batch. */
  constructor(private readonly inBatch: (xid: number) => boolean) {}

  /**
   * The start's read of `oid`'s row type: written by `xmin`, `age` transactions ago (TYPE_AGE), with
   * the slots' horizons (SLOT_HORIZONS) and the WAL insert position `position` read after it. Whether
   * the stream will reach it is decided once the slot is known (slot).
   */
  atStart(
    oid: string,
    xmin: string | null | undefined,
    age: string | null | undefined,
    horizons: string | null | undefined,
    position: string,
  ): void {
    if (!xmin || !/^\d+$/.test(xmin) || !age || !/^\d+$/.test(age)) return;
    this.last.set(oid, xmin);
    this.undecided.set(oid, { xid: Number(xmin), at: parseLsn(position) ?? 0n, age: Number(age) });
    if (horizons) this.horizons = JSON.parse(horizons) as Record<string, number>;
  }

  /**
   * The stream reads `slot`: a rewrite read at start is unreached when it is younger than the slot's
   * catalog_xmin. A slot missing at start was created after: every rewrite then lies before it.
   */
  slot(name: string): void {
    const horizon = this.horizons[name];
    for (const [oid, u] of this.undecided)
      if (horizon !== undefined && u.age <= horizon) this.unreached.set(oid, { xid: u.xid, at: u.at });
    this.undecided.clear();
  }

  /** A catalog check shows `oid`'s row type written by `xmin`, with the WAL insert position `position` read after it. */
  read(oid: string, xmin: string | null | undefined, position: string): void {
    if (!xmin || !/^\d+$/.test(xmin)) return;
    const before = this.last.get(oid);
    this.last.set(oid, xmin);
    if (before === xmin) return;
    const u = { xid: Number(xmin), at: parseLsn(position) ?? 0n };
    this.unreached.delete(oid);
    this.undecided.delete(oid);
    // Committed in the open batch already: reached, unless the batch is read again.
    if (this.inBatch(u.xid)) this.learnt.set(oid, u);
    else this.unreached.set(oid, u);
  }

  /** The followed tables whose last rename (or owner change) the stream has not reached. */
  pending(): string[] {
    return [...this.unreached.keys()];
  }

  /** The stream committed transaction `xid`. */
  committed(xid: number): void {
    for (const [oid, u] of this.unreached) if (u.xid === xid) this.reach(oid, u);
  }

  /** The stream passed WAL position `lsn` (a commit at or after it, or a keepalive). */
  passed(lsn: Lsn): void {
    for (const [oid, u] of this.unreached) if (u.at !== 0n && u.at <= lsn) this.reach(oid, u);
  }

  private reach(oid: string, u: Unreached): void {
    this.unreached.delete(oid);
    this.learnt.set(oid, u);
  }

  /** A DuckDB commit made the open batch durable. */
  settled(): void {
    this.learnt.clear();
  }

  /** The open batch rolled back, to be read again from the last commit. */
  rolledBack(): void {
    for (const [oid, u] of this.learnt) if (!this.unreached.has(oid)) this.unreached.set(oid, u);
    this.learnt.clear();
  }

  /** The table is gone (dropped): nothing more to watch. */
  forget(oid: string): void {
    this.last.delete(oid);
    this.unreached.delete(oid);
    this.learnt.delete(oid);
    this.undecided.delete(oid);
  }
}
