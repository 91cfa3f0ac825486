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
// schema now and copies it again online (duckdb-sink.ts recopySchema), where it can be copied.

import type { DuckDBConnection } from '@duckdb/node-api';
import { InternalError, WalduckError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import type { PgType } from '../source/catalog.js';
import type { CatalogColumn, SchemaCatalog } from '../source/schema-catalog.js';
import type { RowImage } from '../wal2json/change.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { sameTypeName } from '../wal2json/type-name.js';
import { attachedCatalog } from './checkpoint.js';
import { type FillSpec, fillFromSource } from './fill-from-source.js';
import { liveColumns, type RecordedColumn, type RecordedTable } from './source-schema.js';
import { qualified, quoteIdent, quoteLiteral } from './sql.js';
import { targetSchema } from './target.js';
import { type MapOptions, mapType, type NumericMode, numericPrecision } from './type-map.js';

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

export interface Candidate {
  readonly attnum: number;
  /** The recorded column, or undefined for an attnum new since the record. */
  readonly rec: RecordedColumn | undefined;
  readonly now: CatalogColumn | undefined;
  /** Must be matched (a recorded column alive now was alive at the change too). */
  readonly required: boolean;
}

/**
 * Aligns the image's columns to attnums: each image column takes one candidate, in increasing
 * order; required candidates cannot be skipped. Returns the best alignment, or undefined when two
 * alignments score the same (the stream and the catalog cannot tell them apart).
 */
export function align(
  image: { readonly names: readonly string[]; readonly types: readonly string[] },
  cands: readonly Candidate[],
): Candidate[] | undefined | 'none' {
  const n = image.names.length;
  const m = cands.length;
  // A name agreeing (with the record or the catalog now) counts most, then a type; a new attnum
  // dropped by now contradicts nothing, so it is preferred to a later one that does. A type agreeing
  // under another name (a rename before or since) is no better evidence than a drop since: one DDL
  // either way, so the two tie and the change is refused. (A type scoring 2 there made ADD a, DROP a,
  // ADD b, all before walduck read a row with a, give a b's attnum and the rows already there b's
  // default, and then rename a to b, rows and all: silently.)
  const score = (i: number, c: Candidate): number => {
    const nm = image.names[i];
    const ty = image.types[i];
    const alive = c.now !== undefined && !c.now.dropped;
    const named = nm === c.rec?.name || (alive && nm === c.now?.name);
    let s = 0;
    if (named) s += 4;
    const rec = c.rec?.type;
    const now = alive ? c.now?.type : undefined;
    if (
      ty !== undefined &&
      ty !== '' &&
      ((rec !== undefined && sameTypeName(ty, rec)) || (now !== undefined && sameTypeName(ty, now)))
    )
      s += named ? 2 : 1;
    if (c.rec === undefined && c.now?.dropped) s += 1;
    return s;
  };

  // best[i][j]: best score aligning image[0..i) within cands[0..j) (-1: impossible); ways: how many
  // alignments reach it (capped at 2: one or several is all that matters).
  const W = m + 1;
  const best = new Int32Array((n + 1) * W).fill(-1);
  const ways = new Uint8Array((n + 1) * W);
  best[0] = 0;
  ways[0] = 1;
  // A new attnum alive now that the image skips was added after the change; so were all later ones:
  // past it, nothing more of the image can match.
  const skippable = (c: Candidate, i: number) =>
    !c.required && (c.rec !== undefined || c.now === undefined || c.now.dropped || i === n);
  for (let j = 1; j <= m && skippable(cands[j - 1] as Candidate, 0); j++) {
    best[j] = 0;
    ways[j] = 1;
  }
  const at = (i: number, j: number) => best[i * W + j] ?? -1;
  const take = (i: number, j: number) => {
    const prev = at(i - 1, j - 1);
    return prev < 0 ? -1 : prev + score(i - 1, cands[j - 1] as Candidate);
  };
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      let b = -1;
      let w = 0;
      if (skippable(cands[j - 1] as Candidate, i) && at(i, j - 1) >= 0) {
        b = at(i, j - 1);
        w = ways[i * W + j - 1] ?? 0;
      }
      const s = take(i, j);
      const sw = ways[(i - 1) * W + j - 1] ?? 0;
      if (s > b) {
        b = s;
        w = sw;
      } else if (s >= 0 && s === b) w = Math.min(2, w + sw);
      best[i * W + j] = b;
      ways[i * W + j] = w;
    }
  }
  if (at(n, m) < 0) return 'none';
  if ((ways[n * W + m] ?? 0) > 1) return undefined;
  const out: Candidate[] = new Array(n);
  let i = n;
  let j = m;
  while (i > 0) {
    if (take(i, j) === at(i, j) && take(i, j) >= 0) {
      out[i - 1] = cands[j - 1] as Candidate;
      i--;
    }
    j--;
  }
  return out;
}

export interface PlanInput {
  readonly rec: RecordedTable;
  readonly image: RowImage;
  /** The image lists every column (an INSERT, an UPDATE's new row without unchanged TOAST, v2 FULL old rows). */
  readonly full: boolean;
  /** Primary-key column names the change carried (include-pk), when any. */
  readonly pk: readonly string[] | undefined;
  readonly lsn: Lsn;
  readonly policy: SchemaPolicy;
}

/** Works out what happened between the record and this image, or throws the line that stops. */
export async function planChange(p: PlanInput): Promise<Plan> {
  const { rec, image, policy } = p;
  const refuseWith = (what: string) => refuse(rec, p.lsn, what, policy);
  const query = policy.catalog;
  if (!query)
    throw refuseWith(`its columns changed (${describeImage(image)}) and no source catalog is at hand`);
  const catalog = await query.columns(rec.oid);
  if (catalog.length === 0) {
    const err = refuseWith(
      `its columns changed (${describeImage(image)}) and the table no longer exists on the source, so the change cannot be told apart`,
    );
    // Dropped, and by now maybe created again under its name (the catalog check, about once a
    // second, had not seen it yet): a copy of the table of that name, with its schema, heals that
    // whatever --on-type-change says, as the check's own re-copy would. Without such a table the
    // sink finds nothing to copy and this stops.
    err.recopy ??= {
      what: `it was dropped and a table created under its name (${describeImage(image)})`,
      lsn: p.lsn,
    };
    throw err;
  }
  const byAttnum = new Map(catalog.map((c) => [c.attnum, c]));
  const live = liveColumns(rec);
  const cands: Candidate[] = live.map((c) => {
    const now = byAttnum.get(c.attnum);
    return { attnum: c.attnum, rec: c, now, required: p.full && now !== undefined && !now.dropped };
  });
  for (const c of catalog)
    if (c.attnum > rec.maxAttnum) cands.push({ attnum: c.attnum, rec: undefined, now: c, required: false });
  const types = image.types.length > 0 ? image.types : image.names.map(() => '');
  const aligned = align({ names: image.names, types }, cands);
  if (aligned === 'none' || aligned === undefined)
    throw refuseWith(
      `its columns changed (${describeImage(image)}, recorded ${live.map((c) => `${shownIdent(c.name)} ${c.type}`).join(', ')}) in a way the stream and the catalog cannot tell apart${aligned === undefined ? ' (several DDLs could explain it)' : ''}`,
    );

  const steps: Step[] = [];
  const matched = new Map<number, number>(); // attnum -> image index
  aligned.forEach((c, i) => {
    matched.set(c.attnum, i);
  });
  const next: RecordedColumn[] = [];
  const renames: Array<{ from: string; to: string }> = [];
  let keyNames = [...rec.keyNames];
  for (const col of rec.columns) {
    if (col.dropped) {
      next.push(col);
      continue;
    }
    const i = matched.get(col.attnum);
    if (i === undefined) {
      // Not in the image: a partial image (unchanged TOAST, key-only old row) just leaves it out,
      // unless another column took its name there (names are unique): then it was dropped before.
      const nameTaken = image.names.includes(col.name);
      if (!p.full && !nameTaken) {
        next.push(col);
        continue;
      }
      if (rec.keyNames.includes(col.name))
        throw refuseWith(
          `key column ${shownIdent(col.name)} was dropped (the primary key or replica identity changed)`,
        );
      const keep = policy.onDropColumn === 'keep' && rec.keyNames.length > 0;
      steps.push({ kind: 'drop', col, keep });
      if (keep) next.push({ ...col, dropped: true });
      continue;
    }
    const newName = image.names[i] ?? col.name;
    // The catalog's text of the type while it is the same (wal2json writes some names unquoted).
    const streamType = types[i];
    const newType = streamType && !sameTypeName(streamType, col.type) ? streamType : col.type;
    let cur = col;
    if (newName !== col.name) {
      renames.push({ from: col.name, to: newName });
      keyNames = keyNames.map((k) => (k === col.name ? newName : k));
      cur = { ...cur, name: newName };
    }
    if (newType !== col.type) {
      const pg = await query.typeOf(newType, byAttnum.get(col.attnum), col.pg.dims ?? 1);
      const to: RecordedColumn = { ...cur, type: newType, pg };
      const how = widening(col.pg, pg, mapOptionsOf(policy));
      if (how === undefined)
        throw refuseWith(
          `column ${shownIdent(newName)} changed type from ${col.type} to ${newType}, which DuckDB cannot follow losslessly in place`,
        );
      if (how === 'timestamptz') {
        // PostgreSQL converted the rows in the TimeZone of the session that ran the ALTER, which no
        // catalog records: the rows take the values the source holds now (as an ADD COLUMN with a
        // per-row default does). The cast in UTC only holds a row the source no longer has until the
        // stream deletes it.
        const why = `column ${shownIdent(newName)} changed type from ${col.type} to ${newType}, which PostgreSQL converted in the time zone of the session that ran the ALTER (walduck cannot know it, so it reads the rows back from the source)`;
        const now = byAttnum.get(col.attnum);
        if (now === undefined || now.dropped || !sameTypeName(newType, now.type))
          throw refuseWith(
            `${why}, but the column is ${now === undefined || now.dropped ? 'dropped' : `${now.type}`} on the source by now`,
          );
        const fromSource = await fillSpec(query, rec, byAttnum, now, refuseWith, why);
        steps.push({ kind: 'type', col: cur, to, fromSource, inZone: true });
      } else if (rec.keyNames.length > 0 && !rec.keyNames.includes(col.name)) {
        // ALTER … TYPE … USING expr rewrote every row with an expression no catalog or WAL record
        // keeps (`USING c * 1000`): a cast of DuckDB's values would keep the old ones. So the rows
        // take the values the source holds now, as for an added column with a per-row default. A key
        // column cannot be read back by itself, nor a keyless table's rows matched: those are cast
        // (README: a USING that changes their values is found by walduck verify, not by the stream).
        const why = `column ${shownIdent(newName)} changed type from ${col.type} to ${newType}, and the rows PostgreSQL rewrote may hold other values (ALTER … USING), so walduck reads them back from the source`;
        const now = byAttnum.get(col.attnum);
        if (now === undefined || now.dropped) {
          // Dropped since: with --on-drop-column drop its values go with it; kept, they would be wrong.
          if (policy.onDropColumn !== 'drop')
            throw refuseWith(`${why}, but the column is dropped on the source by now`);
          steps.push({ kind: 'type', col: cur, to });
        } else {
          // The source's values now must fit the DuckDB column this step makes (varchar(5) -> varchar(10)
          // with text by now does; int2 -> int4 with int8 by now does not).
          const nowPg = sameTypeName(newType, now.type)
            ? pg
            : await query.typeOf(now.type, now, col.pg.dims ?? 1);
          const mo = mapOptionsOf(policy);
          if (mapType(nowPg, mo).duckType !== mapType(pg, mo).duckType)
            throw refuseWith(`${why}, but the column is ${now.type} on the source by now`);
          const fromSource = await fillSpec(query, rec, byAttnum, now, refuseWith, why);
          steps.push({ kind: 'type', col: cur, to, fromSource });
        }
      } else steps.push({ kind: 'type', col: cur, to });
      cur = to;
    }
    next.push(cur);
  }
  if (renames.length > 0) steps.unshift(...renames.map((r) => ({ kind: 'rename' as const, ...r })));

  // New attnums: ADD COLUMN, appended in attnum order (as PostgreSQL lists them).
  let maxAttnum = rec.maxAttnum;
  for (const c of aligned) {
    if (c.rec !== undefined) continue;
    const i = matched.get(c.attnum) ?? 0;
    const colName = image.names[i] ?? '';
    const now = c.now;
    const streamType = types[i] ?? '';
    const type = now && !now.dropped && sameTypeName(streamType, now.type) ? now.type : streamType;
    const pg = await query.typeOf(type, now, 1);
    const col: RecordedColumn = { attnum: c.attnum, name: colName, type, pg, notNull: false, dropped: false };
    let fill: string | null = null;
    let note = 'existing rows NULL';
    let fromSource: FillSpec | undefined;
    if (now === undefined || now.dropped)
      note = 'existing rows NULL (the column is dropped on the source by now)';
    else if (now.generated)
      throw refuseWith(
        `column ${shownIdent(colName)} was added as a generated column, which wal2json does not send`,
      );
    else if ((now.hasMissing || now.hasDefault || now.identity) && now.type !== type) {
      // Added, then widened (ALTER … TYPE bigint), both before this change was read: the rows that
      // existed take the values the source holds now as the type added, where each fits (the widening
      // this change does not show yet reads them again when a later change shows it).
      const why = `column ${shownIdent(colName)} was added as ${type} and is ${now.type} on the source now`;
      const how = widening(pg, await query.typeOf(now.type, now, 1), mapOptionsOf(policy));
      if (how !== 'same' && how !== 'alter')
        throw refuseWith(
          `${why}, so the value PostgreSQL shows for the rows that existed cannot be read back as ${type}`,
        );
      if (now.hasMissing) {
        // Not rewritten since (varchar(5) -> varchar(10)): the constant is the one it showed then.
        fill = now.missing;
        note = fill === null ? 'existing rows NULL' : `existing rows get the default ${fill}`;
      } else {
        const spec = await fillSpec(query, rec, byAttnum, now, refuseWith, why);
        fromSource = {
          ...spec,
          unfit: refuseWith(
            `${why}, and the value the source holds now for a row that existed does not fit ${type}`,
          ),
        };
        note = `existing rows take the values the source holds now for ${shownIdent(colName)} (it is ${now.type} there by now, which a table rewrite made lose the default it showed them); changes streamed after this one overwrite them`;
      }
    } else if (now.hasMissing) {
      fill = now.missing;
      note = fill === null ? 'existing rows NULL' : `existing rows get the default ${fill}`;
    } else if (now.hasDefault || now.identity) {
      // PostgreSQL computed a value per existing row (a volatile default or an identity rewrites the
      // table), or a later rewrite dropped the constant it kept: take the rows' values from the source.
      fromSource = await fillSpec(
        query,
        rec,
        byAttnum,
        now,
        refuseWith,
        `column ${shownIdent(now.name)} was added with values PostgreSQL computed per existing row`,
      );
      note = `existing rows take the values the source holds now for ${shownIdent(colName)}: its default is not one constant (volatile, identity, or the table was rewritten since); changes streamed after this one overwrite them`;
    }
    steps.push({ kind: 'add', col, fill, note, ...(fromSource ? { fromSource } : {}) });
    next.push(col);
    if (c.attnum > maxAttnum) maxAttnum = c.attnum;
  }
  for (const c of catalog) if (c.attnum > maxAttnum && matched.has(c.attnum)) maxAttnum = c.attnum;

  // A re-added name may collide with a kept (dropped) column: that one gives its name up.
  const taken = new Set(next.filter((c) => !c.dropped).map((c) => c.name.toLowerCase()));
  for (let k = 0; k < next.length; k++) {
    const c = next[k] as RecordedColumn;
    if (!c.dropped || !taken.has(c.name.toLowerCase())) continue;
    let alt = `${c.name}_dropped_${c.attnum}`;
    while (taken.has(alt.toLowerCase())) alt = `${alt}_`;
    steps.push({ kind: 'rename', from: c.name, to: alt });
    taken.add(alt.toLowerCase());
    next[k] = { ...c, name: alt };
  }
  const liveNames = new Set<string>();
  for (const c of next) {
    if (c.dropped) continue;
    const lower = c.name.toLowerCase();
    if (liveNames.has(lower))
      throw refuseWith(
        `it now has two columns named ${shownIdent(c.name)} apart from case, which DuckDB cannot tell apart`,
      );
    liveNames.add(lower);
  }
  if (p.pk !== undefined && rec.identity === 'default' && !sameList(p.pk, keyNames))
    throw refuseWith(
      `its primary key changed from (${keyNames.map(shownIdent).join(', ')}) to (${p.pk.map(shownIdent).join(', ')})`,
    );
  return { steps, next: { ...rec, keyNames, maxAttnum, columns: next } };
}

async function fillSpec(
  query: SchemaCatalog,
  rec: RecordedTable,
  byAttnum: ReadonlyMap<number, CatalogColumn>,
  now: CatalogColumn,
  refuseWith: (what: string) => SchemaChangeError,
  /** Why the rows are read from the source, for a refusal. */
  why: string,
): Promise<FillSpec> {
  const keys: string[] = [];
  for (const k of rec.keyNames) {
    const col = rec.columns.find((c) => c.name === k && !c.dropped);
    const cur = col ? byAttnum.get(col.attnum) : undefined;
    if (!col || !cur || cur.dropped || cur.type !== col.type)
      throw refuseWith(`${why}, and the key ${shownIdent(k)} changed since, so those rows cannot be matched`);
    keys.push(cur.name);
  }
  if (keys.length === 0) throw refuseWith(`${why}, and the table has no key to match them by`);
  return { relation: await query.relation(rec.oid), column: now.name, keys };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function describeImage(image: RowImage): string {
  return `now ${image.names.map((n, i) => `${shownIdent(n)} ${image.types[i] ?? ''}`.trim()).join(', ')}`;
}

const INT_RANK: Readonly<Record<string, number>> = { int2: 1, int4: 2, int8: 3 };
const TEXT = new Set(['varchar', 'text']);

/**
 * Whether DuckDB can follow a type change without losing or altering a value PostgreSQL kept:
 * 'same' (DuckDB's type does not change), 'alter' (a plain DuckDB cast), 'timestamptz' (a cast read
 * in a time zone), or undefined (refuse).
 */
export function widening(
  from: PgType,
  to: PgType,
  mo: MapOptions = {},
): 'same' | 'alter' | 'timestamptz' | undefined {
  if (from.element || to.element) return undefined;
  const fromDuck = mapType(from, mo).duckType;
  const toDuck = mapType(to, mo).duckType;
  const a = from.typname;
  const b = to.typname;
  const ra = INT_RANK[a];
  const rb = INT_RANK[b];
  if (ra !== undefined && rb !== undefined)
    return rb >= ra ? (fromDuck === toDuck ? 'same' : 'alter') : undefined;
  if (TEXT.has(a) && TEXT.has(b)) {
    // varchar(n) -> varchar(m >= n), varchar or text; text -> varchar only without a length.
    const la = a === 'text' || from.typmod < 0 ? Infinity : from.typmod;
    const lb = b === 'text' || to.typmod < 0 ? Infinity : to.typmod;
    return lb >= la ? 'same' : undefined;
  }
  if (a === 'numeric' && b === 'numeric') {
    const pa = numericPrecision(from.typmod);
    const pb = numericPrecision(to.typmod);
    if (!pa || !pb) return pa === pb && fromDuck === toDuck ? 'same' : undefined;
    if (pb.scale !== pa.scale || pb.precision < pa.precision) return undefined;
    // DECIMAL above 38 digits is DOUBLE in DuckDB: not exact.
    if (!toDuck.startsWith('DECIMAL')) return undefined;
    return fromDuck === toDuck ? 'same' : 'alter';
  }
  if (a === 'timestamp' && b === 'timestamptz') return 'timestamptz';
  // The same base type with the same modifier (a domain swapped for another over it): values unchanged.
  if (a === b && from.typmod === to.typmod && fromDuck === toDuck) return 'same';
  return undefined;
}

/**
 * Runs a plan's DuckDB statements (inside the caller's open transaction) and logs each step.
 *
 * DuckDB refuses to commit a transaction that ALTERs a table it has already UPDATEd or DELETEd from
 * ("another transaction has altered this table"; INSERTs are fine). When the open transaction has
 * (`touched`), the table is rebuilt instead: CREATE TABLE AS SELECT with the new shape, DROP, RENAME,
 * which DuckDB commits. That costs a copy of the table, so the plain ALTERs are used when they can be.
 */
export async function applyPlan(
  conn: DuckDBConnection,
  rec: RecordedTable,
  plan: Plan,
  lsn: Lsn,
  say: (msg: string) => void,
  touched: boolean,
  query?: SchemaCatalog,
  mo: MapOptions = {},
): Promise<void> {
  const schema = targetSchema(rec.schema);
  // Qualified with the attached database, as every DuckDB reference (a file named like the schema).
  const table = `${quoteIdent(await attachedCatalog(conn))}.${qualified(schema, rec.table)}`;
  if (touched) await rebuild(conn, schema, rec, plan, mo);
  else await alter(conn, table, plan, mo);
  for (const s of plan.steps) {
    if (!fillsFromSource(s)) continue;
    if (!query) throw new InternalError('apply', 'a column filled from the source needs the source catalog');
    const keyTargets = plan.next.keyNames.map((k) => {
      const c = plan.next.columns.find((x) => x.name === k && !x.dropped);
      return { name: k, pg: c?.pg ?? { typname: 'text', typmod: -1, typtype: 'b' } };
    });
    await fillFromSource(conn, query, table, s.fromSource, keyTargets, s.kind === 'add' ? s.col : s.to, mo);
  }
  const at = `at LSN ${formatLsn(lsn)}`;
  const who = shownName(rec);
  for (const s of plan.steps) {
    if (s.kind === 'drop')
      say(
        `${who}: DROP COLUMN ${shownIdent(s.col.name)} applied ${at} (${s.keep ? 'kept in DuckDB, NULL in rows written from now on (--on-drop-column keep)' : rec.keyNames.length === 0 ? 'dropped in DuckDB too: the table has no key, its rows are matched on every column' : 'dropped in DuckDB too (--on-drop-column drop)'})`,
      );
    else if (s.kind === 'rename')
      say(`${who}: RENAME COLUMN ${shownIdent(s.from)} TO ${shownIdent(s.to)} applied ${at}`);
    else if (s.kind === 'type') {
      const zone = s.inZone
        ? ': existing rows take the values the source holds now, as PostgreSQL converted them in the time zone of the session that ran the ALTER; changes streamed after this one overwrite them'
        : s.fromSource
          ? ': existing rows take the values the source holds now, as PostgreSQL rewrote them (an ALTER … USING may have changed them); changes streamed after this one overwrite them'
          : '';
      say(
        `${who}: ALTER COLUMN ${shownIdent(s.to.name)} TYPE ${s.to.type} (was ${s.col.type}; DuckDB ${mapType(s.to.pg, mo).duckType}${zone}) applied ${at}`,
      );
    } else say(`${who}: ADD COLUMN ${shownIdent(s.col.name)} ${s.col.type} applied ${at} (${s.note})`);
  }
}

/** The value an added column takes in the rows already there: NULL or PostgreSQL's constant. */
function addValue(s: Extract<Step, { kind: 'add' }>, mo: MapOptions): string {
  const m = mapType(s.col.pg, mo);
  if (s.fill === null) return `CAST(NULL AS ${m.duckType})`;
  return m.convert(quoteLiteral(m.pre ? m.pre(s.fill) : s.fill));
}

function typeExpr(s: Extract<Step, { kind: 'type' }>, ref: string, mo: MapOptions): string {
  const to = mapType(s.to.pg, mo).duckType;
  return s.inZone ? `timezone('UTC', ${ref})` : `CAST(${ref} AS ${to})`;
}

async function alter(conn: DuckDBConnection, table: string, plan: Plan, mo: MapOptions): Promise<void> {
  // Drops first (a rename may take a dropped column's name), then renames through temporary names
  // (so swaps a->b, b->a never collide), then type changes, then additions.
  for (const s of plan.steps)
    if (s.kind === 'drop' && !s.keep)
      await conn.run(`ALTER TABLE ${table} DROP COLUMN ${quoteIdent(s.col.name)}`);
  const renames = plan.steps.filter((s) => s.kind === 'rename');
  const tmp = (k: number) => `__walduck_rename_${k}`;
  for (const [k, s] of renames.entries())
    await conn.run(`ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(s.from)} TO ${quoteIdent(tmp(k))}`);
  for (const [k, s] of renames.entries())
    await conn.run(`ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(tmp(k))} TO ${quoteIdent(s.to)}`);
  for (const s of plan.steps) {
    if (s.kind === 'type') {
      const to = mapType(s.to.pg, mo).duckType;
      const col = quoteIdent(s.to.name);
      if (s.inZone || to !== mapType(s.col.pg, mo).duckType)
        await conn.run(`ALTER TABLE ${table} ALTER COLUMN ${col} TYPE ${to} USING ${typeExpr(s, col, mo)}`);
    } else if (s.kind === 'add')
      await conn.run(
        `ALTER TABLE ${table} ADD COLUMN ${quoteIdent(s.col.name)} ${mapType(s.col.pg, mo).duckType}`,
      );
  }
  // The constant PostgreSQL shows for the rows that existed, set after every ALTER: DuckDB refuses to
  // commit a transaction in which a column added with DEFAULT CAST(…) is followed by another ALTER of
  // the table and a write to it ("another transaction has altered this table"), which made two such
  // columns and a row stop at every start. Every later row carries its own value.
  const fills = plan.steps.filter((s) => s.kind === 'add' && s.fill !== null) as Extract<
    Step,
    { kind: 'add' }
  >[];
  if (fills.length > 0)
    await conn.run(
      `UPDATE ${table} SET ${fills.map((s) => `${quoteIdent(s.col.name)} = ${addValue(s, mo)}`).join(', ')}`,
    );
}

/**
 * Whether applying a step writes the rows already in the DuckDB table (an UPDATE): a later ALTER in the
 * same DuckDB transaction must then rebuild the table (applyPlan).
 */
export function writesRows(s: Step): boolean {
  return fillsFromSource(s) || (s.kind === 'add' && s.fill !== null);
}

async function rebuild(
  conn: DuckDBConnection,
  schema: string,
  rec: RecordedTable,
  plan: Plan,
  mo: MapOptions,
): Promise<void> {
  const byAttnum = new Map(rec.columns.map((c) => [c.attnum, c]));
  const types = new Map<number, Extract<Step, { kind: 'type' }>>();
  const adds = new Map<number, Extract<Step, { kind: 'add' }>>();
  for (const s of plan.steps) {
    if (s.kind === 'type') types.set(s.col.attnum, s);
    else if (s.kind === 'add') adds.set(s.col.attnum, s);
  }
  const select = plan.next.columns.map((c) => {
    const add = adds.get(c.attnum);
    const old = byAttnum.get(c.attnum);
    let expr: string;
    if (add !== undefined || old === undefined) expr = add ? addValue(add, mo) : 'NULL';
    else {
      const ref = quoteIdent(old.name);
      const t = types.get(c.attnum);
      expr = t ? typeExpr(t, ref, mo) : ref;
    }
    return `${expr} AS ${quoteIdent(c.name)}`;
  });
  const catalog = quoteIdent(await attachedCatalog(conn));
  const table = `${catalog}.${qualified(schema, rec.table)}`;
  const fresh = `${catalog}.${qualified(schema, `__walduck_rebuild_${rec.table}`)}`;
  await conn.run(`CREATE TABLE ${fresh} AS SELECT ${select.join(', ')} FROM ${table}`);
  await conn.run(`DROP TABLE ${table}`);
  await conn.run(`ALTER TABLE ${fresh} RENAME TO ${quoteIdent(rec.table)}`);
}
