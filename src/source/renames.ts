// Renames of followed tables that the source catalog shows and the stream has not reached yet.
//
// The catalog is "now"; the stream may be behind it. wal2json names a change by the table's name when
// it was written, and a RENAME (or SET SCHEMA) takes an ACCESS EXCLUSIVE lock, so every transaction
// that wrote the table under its old name committed before the rename did, and every later one names
// it by the new name. The catalog check reads the table's name together with the WAL insert position
// (pg_current_wal_insert_lsn()): the rename's commit record lies before that position. Once the stream
// has passed a commit at or after it, no change under the old name can come any more, so the rename
// can be applied there even if the table had no change since (its first change under the new name
// applies it earlier; partitions.ts). The insert position, not the write position
// (pg_current_wal_lsn()): an asynchronous commit (synchronous_commit = off) is visible once its record
// is inserted, before it is written, so the write position may lie before the rename's commit and
// before commits of transactions that wrote under the old name; the rename would be applied at one of
// those, and the others' changes under the old name, arriving after it, dropped as not ours.
//
// The old name may be taken by another table since (the swap: RENAME orders TO orders_old, RENAME
// orders_new TO orders). Then a change under the old name is the followed table's before the rename
// and the other table's after it, so the rename must be applied exactly at the renaming transaction:
// the xmin of the table's row type (pg_type) is that transaction's xid (pg_class's own row is rewritten
// by any later DDL of the table; the row type's only by a rename or OWNER TO), and the stream's commit
// of that xid applies it. Inside that transaction a change under the old name could be
// either table's: the sink then copies the renamed table again online rather than guess.
//
// The mirror: the NEW name used by another table earlier in the stream (INSERT INTO b; DROP TABLE b;
// ALTER TABLE a RENAME TO b; INSERT INTO b). A change under the new name is then the other table's
// before the renaming transaction commits and the followed table's after it, so such a rename is
// placed the same way (`taken`): until that commit, changes under the new name outside the renaming
// transaction are not ours; inside it they may be either table's (re-copied).
//
// Renamed while walduck was stopped (`atStart`): the same placing, with one more unknown. The renaming
// transaction committed before walduck started, so its commit lies before `at` (the WAL insert position
// read at start), but it may also lie before the position the stream resumes from (an idle advance
// recorded past it, then a kill before the rename was applied), and then it is never seen. So a change
// under the new name before the renaming commit is seen is left out tentatively (`leftOut`), and no
// DuckDB commit is made over it (`holding`): either the stream shows the commit (the changes were the
// other table's), or it passes `at` without it (`before`: they were ours, and the batch is read again
// knowing it).

import { type Lsn, parseLsn } from '../protocol/lsn.js';
import { refKey, type TableRef } from '../wal2json/change.js';

/**
 * The transaction that last renamed (or moved) table `c` (SQL over pg_class c), or NULL when that
 * cannot be known. On PostgreSQL 15, the table's row type's pg_type row is rewritten by RENAME, SET
 * SCHEMA and OWNER TO (to another owner) only; pg_class's row by every DDL of the table (ADD COLUMN,
 * ALTER TYPE, GRANT, REPLICA IDENTITY, VACUUM FULL, …), so its xmin would hide the rename.
 * An OWNER TO after the rename would still hide it, and silently: the rename would then be placed at
 * the OWNER TO, after rows the other table wrote under the old name. OWNER TO also rewrites the
 * table's indexes' and TOAST table's pg_class rows and its owner dependency (pg_shdepend, for an owner
 * other than the bootstrap superuser); RENAME touches none of them. So when one of those carries the
 * pg_type row's xmin, that transaction is taken for an OWNER TO: NULL, and the rename is re-copied
 * rather than placed (rename-catalog.ts also compares the owner with the last check's).
 * SET SCHEMA rewrites the indexes' pg_class rows too, so it alone would pass for an OWNER TO, and a
 * swap made with it was never placed. It also rewrites the table's dependency on its schema
 * (pg_depend), which OWNER TO does not touch: when that row carries the pg_type row's xmin, the last
 * rewrite of the row type was in a transaction that moved the table, whatever else it did, and that
 * transaction is the renaming one.
 */
export const RENAMING_XID = `(SELECT t.xmin::text FROM pg_type t WHERE t.oid = c.reltype
  AND (EXISTS (SELECT 1 FROM pg_depend s WHERE s.classid = 'pg_class'::regclass AND s.objid = c.oid
      AND s.refclassid = 'pg_namespace'::regclass AND s.xmin = t.xmin)
    OR NOT EXISTS (SELECT 1 FROM pg_class w WHERE w.xmin = t.xmin
      AND (w.oid = c.reltoastrelid OR w.oid IN (SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = c.oid)))
    AND NOT EXISTS (SELECT 1 FROM pg_shdepend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
      AND d.deptype = 'o' AND d.xmin = t.xmin)))`;

/**
 * The transaction that last moved table `c` to another schema (SQL over pg_class c): the xmin of its
 * dependency on its schema (pg_depend), which only ALTER … SET SCHEMA rewrites (a SET SCHEMA to the
 * schema it is in rewrites nothing). For a table whose name is the same and only its schema changed,
 * that is the renaming transaction, also when a later OWNER TO hid it from RENAMING_XID (a swap made
 * with SET SCHEMA, then the moved table given to another owner).
 */
export const MOVING_XID = `(SELECT s.xmin::text FROM pg_depend s WHERE s.classid = 'pg_class'::regclass AND s.objid = c.oid
  AND s.objsubid = 0 AND s.refclassid = 'pg_namespace'::regclass LIMIT 1)`;

/** The renaming transaction of a table named `from` before and `to` now: MOVING_XID's `moved` when only the schema changed. */
export function renamingXidOf(
  from: TableRef,
  to: TableRef,
  renaming: string | null | undefined,
  moved: string | null | undefined,
): string | null {
  return from.table === to.table && from.schema !== to.schema && moved ? moved : (renaming ?? null);
}

/** What both kinds of pending rename know. */
interface RenameSeen {
  readonly oid: string;
  readonly from: TableRef;
  readonly to: TableRef;
  /** The WAL insert position read with the catalog that showed `to`: the rename's commit lies before it. */
  readonly at: Lsn;
  /** The renaming transaction (RENAMING_XID); undefined when it cannot be known: never placed. */
  readonly xid: number | undefined;
  /** Another relation has the old name now. */
  readonly reused: boolean;
  /** The stream committed transaction `xid`: due at the next transaction. */
  readonly committed: boolean;
}

/** Seen by a catalog check while streaming. */
export interface RunningRename extends RenameSeen {
  readonly kind: 'running';
  /** A read-again of the stream was asked for it (see arm). */
  readonly armed: boolean;
  /** The new name carried another table's changes in this stream: placed by `xid` too. */
  readonly taken: boolean;
  /** The stream committed `xid` in the open batch before this rename was seen (see passed()). */
  readonly passed: boolean;
}

/**
 * Renamed while walduck was stopped: `at` is the WAL insert position read at start. Always placed by
 * its transaction (as `taken`), known from the start (as `armed`), never `passed`.
 */
export interface AtStartRename extends RenameSeen {
  readonly kind: 'atStart';
  /** The renaming transaction lies before the position the stream resumed from (for good). */
  readonly before: boolean;
  /** Seen committed in this stream once (so not before it; never taken back). */
  readonly inStream: boolean;
  /** A change under the new name was left out before the renaming commit was seen. */
  readonly leftOut: boolean;
  /**
   * A change under the old name, which another relation has now, was applied to this table before the
   * renaming commit was seen: the mirror of `leftOut` (ours only if that commit is still ahead).
   */
  readonly tookOld: boolean;
}

export type PendingRename = RunningRename | AtStartRename;

/** Placed by its transaction: changes under the new name before its commit are another table's. */
export function placedByXid(p: PendingRename): boolean {
  return p.kind === 'atStart' || p.taken;
}

/** What a catalog read tells of a rename, as both kinds record it first (not yet committed in the stream). */
function seen(
  oid: string,
  from: TableRef,
  to: TableRef,
  position: string,
  xmin: string | null,
  reused: boolean,
): RenameSeen {
  return {
    oid,
    from: { schema: from.schema, table: from.table },
    to: { schema: to.schema, table: to.table },
    at: parseLsn(position) ?? 0n,
    xid: xmin !== null && /^\d+$/.test(xmin) ? Number(xmin) : undefined,
    reused,
    committed: false,
  };
}

export class PendingRenames {
  private readonly byOid = new Map<string, PendingRename>();
  /**
   * Renames whose `committed` or `passed` the open batch's stream set: a rollback (the batch read
   * again) takes those back, or the replay would count the renaming transaction as passed before it
   * reaches it again and apply the rename at its start, ahead of the table's changes under the old name.
   */
  private readonly learnt = new Set<string>();

  /** `inBatch`: whether the stream committed a transaction in the open batch (the sink keeps them). */
  constructor(private readonly inBatch: (xid: number) => boolean = () => false) {}

  /** How many renames are pending. */
  get size(): number {
    return this.byOid.size;
  }

  /** The catalog shows `oid` (followed as `from`) named `to`; true when that is news (worth a line). */
  saw(
    oid: string,
    from: TableRef,
    to: TableRef,
    walPosition: string,
    xmin: string | null = null,
    reused = false,
    taken = false,
  ): boolean {
    const was = this.byOid.get(oid);
    if (was && was.to.schema === to.schema && was.to.table === to.table) {
      if (was.reused === reused && (placedByXid(was) || !taken)) return false;
      // The first position and transaction stay: the rename committed before the first position, and
      // a later read may name a later OWNER TO, or none (see RENAMING_XID).
      const f = { schema: from.schema, table: from.table };
      this.byOid.set(
        oid,
        was.kind === 'atStart'
          ? { ...was, from: f, reused }
          : { ...was, from: f, reused, taken: was.taken || taken },
      );
      return false;
    }
    const base = seen(oid, from, to, walPosition, xmin, reused);
    const passed = base.xid !== undefined && this.inBatch(base.xid);
    this.byOid.set(oid, { kind: 'running', ...base, armed: false, taken, passed });
    if (passed) this.learnt.add(oid);
    return true;
  }

  /**
   * At start: `oid`, followed as `from`, is named `to` now (renamed while walduck was stopped); `xmin`
   * as in saw, `insertPosition` the WAL insert position read after the catalog.
   */
  sawAtStart(
    oid: string,
    from: TableRef,
    to: TableRef,
    insertPosition: string,
    xmin: string | null,
    reused: boolean,
  ): void {
    this.byOid.set(oid, {
      kind: 'atStart',
      ...seen(oid, from, to, insertPosition, xmin, reused),
      before: false,
      inStream: false,
      leftOut: false,
      tookOld: false,
    });
  }

  /**
   * `oid`, gone from the catalog, was renamed `from` -> `to` where `like` (another table's rename) is
   * in the stream: placed as `like` is, so that both are applied as one set (a swap, then a drop).
   */
  alongside(oid: string, from: TableRef, to: TableRef, like: PendingRename): void {
    this.byOid.set(oid, { ...like, oid, from: { ...from }, to: { ...to } });
    if (this.learnt.has(like.oid)) this.learnt.add(oid);
  }

  /**
   * The old name of `oid`'s rename was another table's in the stream, though no relation has it now
   * (that table dropped since): placed exactly, as `reused` is. A later catalog read clears it again
   * (saw), so the catalog check marks it at each read.
   */
  oldNameTaken(oid: string): void {
    const p = this.byOid.get(oid);
    if (p && !p.reused) this.byOid.set(oid, { ...p, reused: true });
  }

  /** The pending renames of other tables than `oid` to the name `key` (refKey). */
  onto(key: string, oid: string): PendingRename[] {
    return [...this.byOid.values()].filter((p) => p.oid !== oid && refKey(p.to) === key);
  }

  /** A change under `p`'s new name was left out as not ours (see holding). */
  leftOut(p: PendingRename): void {
    if (p.kind !== 'atStart' || p.leftOut) return;
    this.byOid.set(p.oid, { ...p, leftOut: true });
    this.learnt.add(p.oid);
  }

  /**
   * `oid`'s rename made while stopped, when a change under its old name cannot be placed yet: another
   * relation has that name now, and the renaming commit is neither seen nor known to lie before the
   * resume position. The change is applied to the table as its own, tentatively (tookOld): holding
   * then keeps it from DuckDB until that is settled.
   */
  oldNameUnsettled(oid: string, current: number | undefined): AtStartRename | undefined {
    const p = this.byOid.get(oid);
    if (p?.kind !== 'atStart' || !p.reused || p.committed || p.before || p.xid === current) return undefined;
    return p;
  }

  /** A change under `p`'s old name was applied to the table before its renaming commit was seen. */
  tookOld(p: AtStartRename): void {
    if (p.tookOld) return;
    this.byOid.set(p.oid, { ...p, tookOld: true });
    this.learnt.add(p.oid);
  }

  /**
   * A rename renamed while stopped that left changes out, or applied changes under its old name, and is
   * not settled yet: no DuckDB commit now.
   */
  holding(): PendingRename | undefined {
    for (const p of this.byOid.values())
      if (p.kind === 'atStart' && (p.leftOut || p.tookOld) && !p.committed && !p.before) return p;
    return undefined;
  }

  /**
   * The stream has passed WAL position `lsn` (a commit at or after it, or a keepalive reporting it).
   * A rename renamed while stopped whose commit was not seen by then lies before the resume position:
   * its changes under the new name are all ours, and those under the old name another table's.
   * Returns the ones that had left some out or taken some in (their batch must be read again).
   */
  reached(lsn: Lsn): PendingRename[] {
    const out: PendingRename[] = [];
    for (const [oid, p] of this.byOid) {
      if (p.kind !== 'atStart' || p.committed || p.inStream || p.before || lsn < p.at) continue;
      // Not in `learnt`: a fact about the WAL, which a rollback does not take back.
      this.byOid.set(oid, { ...p, before: true });
      if (p.leftOut || p.tookOld) out.push(p);
    }
    return out;
  }

  /** The stream committed transaction `xid`. */
  committedXid(xid: number): void {
    for (const [oid, p] of this.byOid)
      if (p.xid === xid) {
        this.byOid.set(
          oid,
          p.kind === 'atStart' ? { ...p, committed: true, inStream: true } : { ...p, committed: true },
        );
        this.learnt.add(oid);
      }
  }

  /** A DuckDB commit made the open batch durable: what its stream taught holds from now on. */
  settled(): void {
    this.learnt.clear();
  }

  /**
   * The open batch rolled back, to be read again: what its stream taught is void (its commits are
   * seen again in the replay). What the catalog showed stays, and so does `armed`: the replay is
   * the read-again it asked for.
   */
  rolledBack(): void {
    for (const oid of this.learnt) {
      const p = this.byOid.get(oid);
      if (p)
        this.byOid.set(
          oid,
          p.kind === 'atStart'
            ? { ...p, committed: false, leftOut: false, tookOld: false }
            : { ...p, committed: false, passed: false },
        );
    }
    this.learnt.clear();
  }

  /** A rename taken (due, or followed at a change) in a batch that rolled back: pending again. */
  restore(p: PendingRename): void {
    this.byOid.set(p.oid, p);
  }

  /** Old names (renames whose old name another table took) that transaction `xid` renamed away. */
  reusedIn(xid: number): PendingRename[] {
    return [...this.byOid.values()].filter((p) => p.reused && p.xid === xid);
  }

  /** Followed already (by a change under the new name), or the table is gone. */
  drop(oid: string): void {
    this.byOid.delete(oid);
  }

  /**
   * Before a DuckDB commit: true when a rename whose old name another table took has not been seen
   * committed in the stream, and no read-again was asked for it yet. Its transaction may be in the open
   * batch, recognised by nobody (its xid was not known then), and the other table's changes under the
   * old name applied to the renamed one: the batch must be read again, the xid known this time. Each
   * rename asks once; every DuckDB commit runs this after a fresh catalog check, so no such rename ever
   * lies in a committed batch unknown.
   */
  arm(): boolean {
    let any = false;
    for (const [oid, p] of this.byOid) {
      // Renamed while stopped: known from the start, no read-again is needed to learn it.
      if (p.kind === 'atStart' || (!p.reused && !p.taken) || p.committed || p.armed) continue;
      this.byOid.set(oid, { ...p, armed: true });
      any = true;
    }
    return any;
  }

  /** The rename of `oid`, if one is pending. */
  of(oid: string): PendingRename | undefined {
    return this.byOid.get(oid);
  }

  /** A pending rename placed by its transaction (`taken`) whose new name is `key` (refKey), if any. */
  placing(key: string): PendingRename | undefined {
    // Asked for every change of an unfollowed table (TableRouter.ignores): nothing to look at, mostly.
    if (this.byOid.size === 0) return undefined;
    for (const p of this.byOid.values()) if (placedByXid(p) && refKey(p.to) === key) return p;
    return undefined;
  }

  /**
   * Whether a change under `p`'s new name, in transaction `current`, is the renamed table's: inside
   * the renaming transaction or after its commit (seen, or in the open batch before the rename was).
   * Unknown transaction: true (the caller re-copies when the name was another table's).
   */
  ours(p: PendingRename, current: number | undefined): boolean {
    const after = p.kind === 'atStart' ? p.before : p.passed;
    return p.xid === undefined || p.committed || after || p.xid === current;
  }

  /** A rename still ahead in the stream, if any. */
  any(): PendingRename | undefined {
    for (const p of this.byOid.values()) return p;
    return undefined;
  }

  /** The renames whose old name can no longer appear once the stream passed the commit at `lsn`. */
  due(lsn: Lsn): PendingRename[] {
    const out: PendingRename[] = [];
    for (const [oid, p] of this.byOid) {
      // Renamed while stopped: by its transaction only (reached() decides the other way).
      if (p.kind === 'atStart' ? !p.committed && !p.before : !p.committed && (p.at === 0n || p.at > lsn))
        continue;
      out.push(p);
      this.byOid.delete(oid);
    }
    // A due rename's new name is still another pending rename's old name: that table left the name by
    // then (a name is one table's at a time), so its rename is due too, as one set. Its own placing
    // was later or none: an OWNER TO after a swap rewrites the row type, so the swap's second rename
    // could not be placed (RENAMING_XID), and the first, applied alone, met the name still taken.
    // Taken early and never seen committed, it is applied as one due by position (partitions.ts
    // re-copies it when changes under its old name could be another table's).
    for (let i = 0; i < out.length; i++) {
      const name = refKey(out[i]!.to);
      for (const [oid, q] of this.byOid)
        if (refKey(q.from) === name) {
          out.push(q.committed ? q : { ...q, xid: undefined });
          this.byOid.delete(oid);
        }
    }
    return out;
  }
}
