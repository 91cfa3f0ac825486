// One table's recorded source schema and the check every change of it passes (see schema-change.ts
// for what is detected and applied). A SchemaWatch describes one shape and never changes: applying a
// schema change returns a new one, so a rolled-back DuckDB transaction simply keeps the old.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError } from '../protocol/errors.js';
import { type Lsn, parseLsn } from '../protocol/lsn.js';
import type { SourceTable } from '../source/catalog.js';
import type { Delete, Insert, RowImage, Update, Value } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { applyPlan } from './schema-apply.js';
import { keyChange, mapOptionsOf, type Plan, refuse, type SchemaPolicy, sameShape } from './schema-change.js';
import { planChange } from './schema-plan.js';
import {
  ensureColumnsTable,
  type RecordedTable,
  readRecorded,
  recordFromCatalog,
  toSourceTable,
  writeRecorded,
} from './source-schema.js';

export type { OnDropColumn, OnTypeChange, SchemaPolicy } from './schema-change.js';

/** The last arrays (by identity) that passed the check, per kind of image. */
interface Seen {
  names: readonly string[] | undefined;
  types: readonly string[] | undefined;
}

export class SchemaWatch {
  /** What the DuckDB table is built from: every DuckDB column, kept dropped ones included. */
  readonly source: SourceTable;
  private readonly full: Seen = { names: undefined, types: undefined };
  private readonly partial: Seen = { names: undefined, types: undefined };
  private readonly old: Seen = { names: undefined, types: undefined };
  private pk: readonly string[] | undefined;
  /** Names of kept dropped columns: rows written from now on carry NULL for them. */
  private readonly kept: readonly string[];
  private keptFor: { names: readonly string[]; out: readonly string[] } | undefined;

  private constructor(
    readonly rec: RecordedTable,
    private readonly policy: SchemaPolicy,
    private readonly say: (msg: string) => void,
    /**
     * Set when the record was read from the catalog as it is now, for a table whose rows still come
     * from WAL older than that (a table that joins from its first change): the WAL position the read
     * lies before. A change before it may predate a DDL the record already shows, so a change that does
     * not fit is no sign of a DDL walduck missed; see policyAt.
     */
    private readonly aheadOf?: Lsn,
  ) {
    this.source = toSourceTable(rec);
    this.kept = rec.columns.filter((c) => c.dropped).map((c) => c.name);
  }

  /** The recorded schema, or (first time) the catalog's, recorded now. */
  static async open(
    conn: DuckDBConnection,
    source: SourceTable,
    policy: SchemaPolicy,
    say: (msg: string) => void,
  ): Promise<SchemaWatch> {
    await ensureColumnsTable(conn);
    let rec = await readRecorded(conn, source.schema, source.table);
    // The table under this name now (recreated while walduck was stopped, or a record of an older
    // walduck): a rename is recognised by this oid.
    if (rec && source.oid !== undefined && /^\d+$/.test(source.oid) && rec.oid !== source.oid) {
      rec = { ...rec, oid: source.oid };
      await writeRecorded(conn, rec);
    }
    let aheadOf: Lsn | undefined;
    if (!rec && policy.catalog) {
      rec = await recordFromCatalog(policy.catalog, source);
      await writeRecorded(conn, rec);
      // Read after the catalog: every change from this position on was decoded with what it showed.
      aheadOf = parseLsn(await policy.catalog.walPosition());
    }
    if (!rec)
      throw new InternalError(
        'duckdb',
        `no recorded schema for ${shownName(source)} and no catalog to read it`,
      );
    return new SchemaWatch(rec, policy, say, aheadOf);
  }

  /**
   * The table's schema as the source catalog has it now (`source`, read just now), recorded in the
   * caller's open transaction in place of this one: for a table about to be copied again.
   */
  async recopied(conn: DuckDBConnection, source: SourceTable): Promise<SchemaWatch> {
    const catalog = this.policy.catalog;
    if (!catalog) throw new InternalError('apply', `re-copy of ${shownName(source)} without a catalog`);
    const rec = await recordFromCatalog(catalog, source);
    await writeRecorded(conn, rec, this.rec);
    return new SchemaWatch(rec, this.policy, this.say);
  }

  /** The same table under its new name (RENAME TABLE, SET SCHEMA), recorded in the caller's transaction. */
  async renamed(conn: DuckDBConnection, to: { schema: string; table: string }): Promise<SchemaWatch> {
    const rec = { ...this.rec, schema: to.schema, table: to.table };
    await writeRecorded(conn, rec, this.rec);
    return new SchemaWatch(rec, this.policy, this.say, this.aheadOf);
  }

  /**
   * True when check(change) would return undefined at once: the change's arrays are the very ones that
   * last passed (decoders reuse them). No side effect, so the sink can take a change synchronously.
   */
  unchanged(change: Insert | Update | Delete): boolean {
    if (change.pk !== undefined && change.pk !== this.pk) return false;
    if (change.kind !== 'insert' && change.old !== undefined && !same(change.old, this.old)) return false;
    return change.kind === 'delete' || same(change.new, change.kind === 'insert' ? this.full : this.partial);
  }

  /** undefined when the change has the recorded shape (the usual case: identity compares only). */
  async check(change: Insert | Update | Delete): Promise<Plan | undefined> {
    if (change.pk !== undefined && change.pk !== this.pk) {
      if (this.rec.identity !== 'index' && !sameNames(change.pk, this.rec.keyNames) && this.shapeOk(change)) {
        throw refuse(
          this.rec,
          change.lsn,
          keyChange(this.rec.keyNames, change.pk, this.predates(change.lsn)),
          this.policyAt(change.lsn),
        );
      }
      this.pk = change.pk;
    }
    if (
      change.kind !== 'insert' &&
      change.old !== undefined &&
      !this.passes(change.old, this.old, false, change.lsn)
    ) {
      const plan = await this.plan(change, change.old, false);
      this.identifies(plan.next, change.old, change.lsn);
      return plan;
    }
    if (change.kind !== 'delete') {
      const full = change.kind === 'insert';
      if (!this.passes(change.new, full ? this.full : this.partial, full))
        return this.plan(change, change.new, full);
    }
    return undefined;
  }

  private shapeOk(change: Insert | Update | Delete): boolean {
    return change.kind === 'delete'
      ? sameShape(this.rec, change.old, false)
      : sameShape(this.rec, change.new, false);
  }

  /** `identity`: the image is an old row's identity, at this LSN; it must carry the recorded key. */
  private passes(image: RowImage, seen: Seen, full: boolean, identity?: Lsn): boolean {
    if (image.names === seen.names && image.types === seen.types) return true;
    if (!sameShape(this.rec, image, full)) return false;
    if (identity !== undefined) this.identifies(this.rec, image, identity);
    seen.names = image.names;
    seen.types = image.types;
    return true;
  }

  /**
   * An UPDATE's or DELETE's old identity without a recorded key column: the source's replica identity
   * changed (REPLICA IDENTITY USING INDEX of another index, or back to the primary key), so rows are
   * now told apart by other columns. That is a schema change like a changed primary key: the line
   * names resync (a restart would meet the same change again), and recopy can heal it.
   */
  private identifies(rec: RecordedTable, image: RowImage, lsn: Lsn): void {
    if (rec.keyNames.every((k) => image.names.includes(k))) return;
    throw refuse(
      rec,
      lsn,
      `its replica identity changed: UPDATE and DELETE identify rows by (${image.names.map(shownIdent).join(', ')}) now, recorded (${rec.keyNames.map(shownIdent).join(', ')})`,
      this.policyAt(lsn),
    );
  }

  private plan(change: Insert | Update | Delete, image: RowImage, full: boolean): Promise<Plan> {
    return planChange({
      rec: this.rec,
      image,
      full,
      pk: change.pk,
      lsn: change.lsn,
      policy: this.policyAt(change.lsn),
      predates: this.predates(change.lsn),
    });
  }

  /** Whether a change at `lsn` was written before the catalog read the record was taken from. */
  private predates(lsn: Lsn): boolean {
    return this.aheadOf !== undefined && lsn < this.aheadOf;
  }

  /**
   * The policy for a change at `lsn`. Before the position a catalog-read record lies before, a
   * change that does not fit it may be only older than it (CREATE TABLE … AS, then ADD PRIMARY KEY,
   * as pg_restore does): refusing would stop every start at the same change (and for a table that
   * joined while walduck ran, before it is in the table set resync reads), so it is copied again
   * online, as --on-type-change recopy does: the copy is the source's rows, whatever came before.
   */
  private policyAt(lsn: Lsn): SchemaPolicy {
    return this.predates(lsn) && this.policy.onTypeChange !== 'recopy'
      ? { ...this.policy, onTypeChange: 'recopy' }
      : this.policy;
  }

  /**
   * Alters DuckDB, rewrites the record (both in the caller's open transaction), returns the new watch.
   * `touched`: the open transaction has updated or deleted rows of the table (see applyPlan).
   */
  async apply(conn: DuckDBConnection, plan: Plan, lsn: Lsn, touched: boolean): Promise<SchemaWatch> {
    await applyPlan(
      conn,
      this.rec,
      plan,
      lsn,
      this.say,
      touched,
      this.policy.catalog,
      mapOptionsOf(this.policy),
    );
    await writeRecorded(conn, plan.next, this.rec);
    return new SchemaWatch(plan.next, this.policy, this.say, this.aheadOf);
  }

  /** The row as the DuckDB table takes it: kept dropped columns present, NULL. */
  withKept(image: RowImage): RowImage {
    if (this.kept.length === 0) return image;
    let names = this.keptFor?.names === image.names ? this.keptFor.out : undefined;
    if (names === undefined) {
      names = [...image.names, ...this.kept];
      this.keptFor = { names: image.names, out: names };
    }
    const values: Value[] = [...image.values];
    for (let i = 0; i < this.kept.length; i++) values.push(null);
    return { names, types: image.types, values };
  }
}

function same(image: RowImage, seen: Seen): boolean {
  return image.names === seen.names && image.types === seen.types;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
