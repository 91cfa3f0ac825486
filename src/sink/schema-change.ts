// Schema changes, detected in stream order and applied in place, or refused with one line.
//
// Every change wal2json sends names its columns and their types. Those arrays are handed out by
// identity while a table's shape stays the same (row-image.ts), so the check per change is two
// pointer comparisons; only a new array is compared name by name with the recorded schema
// (source-schema.ts). When they differ, the stream alone cannot always say what happened: "a" gone
// and "b" new is a RENAME or a DROP plus an ADD. PostgreSQL never reuses an attnum, so the catalog
// settles it: pg_attribute of the table's OID (dropped columns included) tells which attnums still
// live, which died, and which are new. The catalog may be ahead of the stream (a later DDL already
// committed), so the stream's columns are aligned to attnums by a small alignment: recorded columns
// still alive now must be there, those dropped now may or may not be, new attnums come after them;
// names and types that agree (with the record or with the catalog now) decide among alignments. A tie
// is refused rather than guessed.
//
// What is applied (each one line on the warning channel, with the LSN):
//   ADD COLUMN      DuckDB ADD COLUMN; rows already there get PostgreSQL's "missing" value (the
//                   constant default it shows for them); a default evaluated per row stops (resync)
//   DROP COLUMN     --on-drop-column keep (default): kept, NULL in every row written afterwards;
//                   drop: dropped in DuckDB too
//   RENAME COLUMN   DuckDB RENAME COLUMN
//   type widening   int2->int4->int8, varchar(n)->varchar(m>=n)/text, numeric(p,s)->numeric(p'>=p,s)
//                   while DuckDB keeps it exact, timestamp->timestamptz (existing rows read back from
//                   the source by key: the zone of the session that ran the ALTER is in no catalog)
// Anything else (narrowing, text->int, a changed primary key) stops without acknowledging the
// transaction (--on-type-change stop), or with recopy the sink rebuilds the table with the source's
// schema now and copies it again online (sink-copies.ts recopySchema), where it can be copied.
//
// This file holds what planning and applying share: the policy, the plan's steps, the per-change
// check and the refusal. Working out a plan is schema-plan.ts (with schema-align.ts, which image column
// is which attnum, and schema-widening.ts, which type changes DuckDB can follow); running one in DuckDB
// is schema-apply.ts.

import { WalduckError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { SchemaCatalog } from '../source/schema-catalog.js';
import type { RowImage } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { sameTypeName } from '../wal2json/type-name.js';
import type { FillSpec } from './fill-from-source.js';
import { liveColumns, type RecordedColumn, type RecordedTable } from './source-schema.js';
import type { MapOptions, NumericMode } from './type-map.js';

export type OnDropColumn = 'drop' | 'keep';
export type OnTypeChange = 'recopy' | 'stop';

export interface SchemaPolicy {
  readonly onDropColumn: OnDropColumn;
  readonly onTypeChange: OnTypeChange;
  /** The source's catalog (a plain session, usable while the stream runs). */
  readonly catalog: SchemaCatalog | undefined;
  /** How numeric columns are stored (type-map.ts): an added or altered column is typed as at start. */
  readonly numeric?: NumericMode;
}

/** The type-map options a policy implies. */
export function mapOptionsOf(policy: { readonly numeric?: NumericMode }): MapOptions {
  return policy.numeric ? { numeric: policy.numeric } : {};
}

export class SchemaChangeError extends WalduckError {
  override readonly name = 'SchemaChangeError';
  readonly code = 'WALDUCK_SCHEMA_CHANGE';
  readonly phase = 'apply';
  /** What changed, when a re-copy of the table with its schema now would heal it (--on-type-change recopy). */
  recopy: { readonly what: string; readonly lsn: Lsn } | undefined;
}

export type Step =
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  | {
      readonly kind: 'type';
      readonly col: RecordedColumn;
      readonly to: RecordedColumn;
      /** Rows already there then take the values the source holds now (see planChange). */
      readonly fromSource?: FillSpec;
      /** timestamp -> timestamptz: DuckDB's own values cast read as UTC until the fill. */
      readonly inZone?: true;
    }
  | { readonly kind: 'drop'; readonly col: RecordedColumn; readonly keep: boolean }
  | {
      readonly kind: 'add';
      readonly col: RecordedColumn;
      readonly fill: string | null;
      /** Rows already there take the values the source holds now (see fillFromSource). */
      readonly fromSource?: FillSpec;
      readonly note: string;
    };

/** Whether a step sets the rows already there from the source (an UPDATE of the DuckDB table). */
export function fillsFromSource(
  s: Step,
): s is Extract<Step, { kind: 'add' | 'type' }> & { fromSource: FillSpec } {
  return (s.kind === 'add' || s.kind === 'type') && s.fromSource !== undefined;
}

/**
 * Whether applying a step writes the rows already in the DuckDB table (an UPDATE): a later ALTER in the
 * same DuckDB transaction must then rebuild the table (applyPlan).
 */
export function writesRows(s: Step): boolean {
  return fillsFromSource(s) || (s.kind === 'add' && s.fill !== null);
}

export interface Plan {
  readonly steps: readonly Step[];
  readonly next: RecordedTable;
}

/** Cheap per-change check: is every column of the image a recorded live column with the same type? */
export function sameShape(rec: RecordedTable, image: RowImage, full: boolean): boolean {
  const live = liveColumns(rec);
  if (full && image.names.length !== live.length) return false;
  let j = 0;
  for (let i = 0; i < image.names.length; i++) {
    const name = image.names[i];
    // Both lists are in attnum order: walk the recorded one forward.
    while (j < live.length && live[j]?.name !== name) {
      if (full) return false;
      j++;
    }
    const col = live[j];
    if (col === undefined) return false;
    const type = image.types[i];
    if (type !== undefined && image.types.length > 0 && !sameTypeName(type, col.type)) return false;
    j++;
  }
  return true;
}

/**
 * What a change whose primary key (wal2json's include-pk, as the table was when the change was
 * written) differs from the recorded one (`recorded`) says happened. `predates`: the record was read
 * from the catalog after the change was written (a table that joins from its first change), so the
 * change may be older than the key: created, filled and keyed in one transaction (or before walduck
 * read it) has its first rows written with no key. Said so, not as a key "changed from (id) to ()"
 * that never changed; the copy it then takes also brings back an UPDATE or DELETE made while the
 * table had no key, which wal2json leaves out of the stream.
 */
export function keyChange(recorded: readonly string[], pk: readonly string[], predates: boolean): string {
  const list = (names: readonly string[]) => `(${names.map(shownIdent).join(', ')})`;
  if (predates && pk.length === 0)
    return `it was written to before it had its primary key ${list(recorded)}, which was added before walduck read its schema (an UPDATE or DELETE made while it had no key is not in the stream)`;
  if (predates)
    return `it was written to under the primary key ${list(pk)}, changed to ${list(recorded)} before walduck read its schema`;
  if (pk.length === 0) return `its primary key ${list(recorded)} was dropped`;
  return `its primary key changed from ${list(recorded)} to ${list(pk)}`;
}

/** The one line that stops replication: table, change, LSN, and what to run. */
export function refuse(rec: RecordedTable, lsn: Lsn, what: string, policy: SchemaPolicy): SchemaChangeError {
  // resync copies in key chunks and judges by the recorded key: a table recorded without one is
  // refused there, so the line names the way out that works.
  const out =
    rec.keyNames.length > 0
      ? `run walduck resync --table ${shownName(rec)} to copy the table again`
      : `a table without a key cannot be copied again online: replicate ${shownName(rec)} into a new DuckDB file, or leave it out of --tables`;
  const err = new SchemaChangeError(
    `schema change on ${shownName(rec)} at LSN ${formatLsn(lsn)} not applied: ${what}; replication stopped before that transaction (nothing after it acknowledged): ${out}`,
  );
  // The sink re-copies instead where it can (a catalog at hand, the table still there, a key to chunk by).
  if (policy.onTypeChange === 'recopy') err.recopy = { what, lsn };
  return err;
}
