// Working out a schema change (schema-change.ts): from the recorded table, the changed row image and
// the source's catalog now, the steps that bring the DuckDB table along (a Plan), or the one line that
// refuses. Nothing here writes to DuckDB: schema-apply.ts runs the plan.

import type { Lsn } from '../protocol/lsn.js';
import type { CatalogColumn, SchemaCatalog } from '../source/schema-catalog.js';
import type { RowImage } from '../wal2json/change.js';
import { shownIdent } from '../wal2json/shown-name.js';
import { sameTypeName } from '../wal2json/type-name.js';
import type { FillSpec } from './fill-from-source.js';
import { align, type Candidate } from './schema-align.js';
import {
  keyChange,
  mapOptionsOf,
  type Plan,
  refuse,
  type SchemaChangeError,
  type SchemaPolicy,
  type Step,
} from './schema-change.js';
import { widening } from './schema-widening.js';
import { liveColumns, type RecordedColumn, type RecordedTable } from './source-schema.js';
import { duckFold } from './sql.js';
import { mapType } from './type-map.js';

export interface PlanInput {
  readonly rec: RecordedTable;
  readonly image: RowImage;
  /** The image lists every column (an INSERT, an UPDATE's new row without unchanged TOAST, v2 FULL old rows). */
  readonly full: boolean;
  /** Primary-key column names the change carried (include-pk), when any. */
  readonly pk: readonly string[] | undefined;
  readonly lsn: Lsn;
  readonly policy: SchemaPolicy;
  /** The record was read from the catalog after this change was written (SchemaWatch.predates). */
  readonly predates?: boolean;
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
  const taken = new Set(next.filter((c) => !c.dropped).map((c) => duckFold(c.name)));
  for (let k = 0; k < next.length; k++) {
    const c = next[k] as RecordedColumn;
    if (!c.dropped || !taken.has(duckFold(c.name))) continue;
    let alt = `${c.name}_dropped_${c.attnum}`;
    while (taken.has(duckFold(alt))) alt = `${alt}_`;
    steps.push({ kind: 'rename', from: c.name, to: alt });
    taken.add(duckFold(alt));
    next[k] = { ...c, name: alt };
  }
  const liveNames = new Set<string>();
  for (const c of next) {
    if (c.dropped) continue;
    const lower = duckFold(c.name);
    if (liveNames.has(lower))
      throw refuseWith(
        `it now has two columns named ${shownIdent(c.name)} apart from case, which DuckDB cannot tell apart`,
      );
    liveNames.add(lower);
  }
  if (p.pk !== undefined && rec.identity === 'default' && !sameList(p.pk, keyNames))
    throw refuseWith(keyChange(keyNames, p.pk, p.predates === true));
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
