// At start, a followed table may have another name than the one given or recorded: renamed at the
// source while walduck ran (walduck followed it; the record holds the new name and the old ones), or
// while walduck was stopped (the record holds the old name). Both are recognised by pg_class oid,
// which PostgreSQL never gives to another live table.
//
// - Named by its new name (`--tables b`, or all tables) after a rename while stopped: it is followed
//   under its recorded name until the stream reaches the rename, which renames it in DuckDB there:
//   the changes before the rename, still in the stream under the old name, are not lost, and no copy
//   is needed.
// - Named by its old name (`--tables a`): a is not at the source any more; one line says it was
//   renamed, to what, and (when walduck followed it) at which LSN, and to name b instead.
// - Its old name taken by another table (the swap, while walduck was stopped): the name no longer
//   means the table DuckDB holds, so one line says so and how to go on either way, rather than apply
//   the other table's changes to it. Unless that table is chosen too, recorded under another name
//   (two followed tables swapped names, or a_new took a's name as a became a_old): then each is
//   followed under its recorded name, as above.

import type { DuckDBConnection } from '@duckdb/node-api';
import { WalduckError } from '../protocol/errors.js';
import type { QueryFn, SourceTable } from '../source/catalog.js';
import { refKey, refName, type TableRef } from '../wal2json/change.js';
import { shownName, shownStoredName } from '../wal2json/shown-name.js';
import { SINCE_LAST_COMMIT } from '../wal2json/since-last-commit.js';
import { ensureColumnsTable, readRecorded } from './source-schema.js';
import { ensureTableSet, readTableSet, recordKey, recordRef, type TableRecord } from './table-records.js';

export class RenamedTableError extends WalduckError {
  override readonly name = 'RenamedTableError';
  readonly code = 'WALDUCK_TABLE_RENAMED';
  readonly phase = 'preflight';
}

/** The followed records (streaming) with their oid: recorded, or from walduck.columns for an older file. */
async function followedWithOid(
  duck: DuckDBConnection,
  slot: string,
): Promise<{ record: TableRecord; oid: string | undefined }[]> {
  await ensureTableSet(duck);
  await ensureColumnsTable(duck);
  const out: { record: TableRecord; oid: string | undefined }[] = [];
  for (const r of (await readTableSet(duck, slot)) ?? []) {
    if (r.state !== 'streaming') continue;
    const oid = r.oid ?? (await readRecorded(duck, r.sourceSchema, r.sourceTable))?.oid;
    out.push({ record: r, oid: oid && /^\d+$/.test(oid) ? oid : undefined });
  }
  return out;
}

/** The present names of these pg_class oids (digits only, from the records), in one query; a dropped one is absent. */
async function namesByOid(query: QueryFn, oids: readonly string[]): Promise<Map<string, TableRef>> {
  const out = new Map<string, TableRef>();
  if (oids.length === 0) return out;
  const rows = await query(
    `SELECT c.oid::text, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid IN (${oids.join(', ')})`,
  );
  for (const [oid, schema, table] of rows) out.set(oid ?? '', { schema: schema ?? '', table: table ?? '' });
  return out;
}

/**
 * The chosen tables, each renamed while walduck was stopped given back under its recorded name (the
 * stream renames it where it reaches the rename).
 */
export async function underRecordedNames(
  duck: DuckDBConnection,
  slot: string,
  chosen: readonly SourceTable[],
  query: QueryFn,
  warn: (msg: string) => void,
): Promise<SourceTable[]> {
  const followed = await followedWithOid(duck, slot);
  if (followed.length === 0) return [...chosen];
  // By name and by oid once: the all-tables mode chooses every table of the database.
  const byName = new Map<string, (typeof followed)[number]>();
  const byOid = new Map<string, (typeof followed)[number]>();
  for (const f of followed) {
    if (!byName.has(recordKey(f.record))) byName.set(recordKey(f.record), f);
    if (f.oid !== undefined && !byOid.has(f.oid)) byOid.set(f.oid, f);
  }
  const chosenOids = new Set(chosen.flatMap((c) => (c.oid === undefined ? [] : [c.oid])));
  // A chosen table recorded under another name (renamed while walduck was stopped) moves back to
  // that name until the stream reaches the rename; the others stay under the names they have now.
  const moves = (t: SourceTable): boolean => {
    const mine = t.oid === undefined ? undefined : byOid.get(t.oid);
    return mine !== undefined && recordKey(mine.record) !== refKey(t);
  };
  const staying = new Set(chosen.filter((t) => !moves(t)).map(refKey));
  // The table recorded under this name is another one now, and it is chosen too (under its new name),
  // while this one moves to its own recorded name: the stopped time renamed both (a swap, a to b and b
  // to a; or a chain, a to a_old and a_new to a). Each is followed under its recorded name, as a
  // single rename is.
  const permuted = (t: SourceTable): boolean => {
    const f = byName.get(refKey(t));
    return f?.oid !== undefined && f.oid !== t.oid && chosenOids.has(f.oid) && moves(t);
  };
  // A chosen name whose recorded table is another one now (not a permutation): where is that one?
  const taken = chosen.flatMap((t) => {
    const f = byName.get(refKey(t));
    if (!f || f.oid === undefined || t.oid === undefined || f.oid === t.oid || permuted(t)) return [];
    return [{ t, oid: f.oid }];
  });
  const names = await namesByOid(
    query,
    taken.map((x) => x.oid),
  );
  for (const { t, oid } of taken) {
    const row = names.get(oid);
    // Gone: a table dropped and made again under the name; the table set copies it online (reconcile).
    if (!row) continue;
    const now = shownName(row);
    throw new RenamedTableError(
      `table ${shownName(t)} of this replica (oid ${oid}) was renamed to ${now} at the source ${SINCE_LAST_COMMIT}, and ${shownName(t)} is now another table (oid ${t.oid}): to go on following the one DuckDB holds, name ${now} instead of ${shownName(t)} in --tables; to follow the new ${shownName(t)}, run walduck resync --table ${shownName(t)} first (it is copied online)`,
    );
  }
  return chosen.map((t) => {
    const r = t.oid === undefined ? undefined : byOid.get(t.oid)?.record;
    if (!r) return t;
    const was = recordRef(r);
    // Its recorded name is a chosen table's that stays under it (a table new under the name, said
    // above): leave it to the ordinary checks.
    if (refKey(was) === refKey(t) || staying.has(refKey(was))) return t;
    warn(
      `table ${shownName(t)} is ${shownName(was)} of this replica, renamed at the source ${SINCE_LAST_COMMIT}: followed from the recorded position and renamed in DuckDB where the stream reaches the rename`,
    );
    return { ...t, schema: was.schema, table: was.table };
  });
}

/**
 * A table named in --tables (`all`) that the source does not have (`asked`): when the replica followed
 * it and it was renamed, a RenamedTableError saying so; otherwise undefined (the caller's "unknown
 * table" stands).
 */
export async function renamedAway(
  duck: DuckDBConnection,
  slot: string,
  asked: readonly TableRef[],
  query: QueryFn,
  all?: readonly TableRef[],
): Promise<RenamedTableError | undefined> {
  await ensureTableSet(duck);
  const records = (await readTableSet(duck, slot)) ?? [];
  for (const a of asked) {
    const name = refName(a);
    const followedAs = records.find(
      (r) => r.state !== 'stopped' && r.renamedFrom.some((f) => f.name === name),
    );
    if (followedAs) {
      const at = [...followedAs.renamedFrom].reverse().find((f) => f.name === name)?.lsn ?? '?';
      const now = shownName(recordRef(followedAs));
      const between = followedAs.renamedFrom
        .slice(followedAs.renamedFrom.findIndex((f) => f.name === name) + 1)
        .map((f) => shownStoredName(f.name));
      return new RenamedTableError(
        `table ${shownName(a)} was renamed at the source (to ${[...between, now].join(', then ')}), and walduck followed the rename at LSN ${at}: name ${now} in --tables instead of ${shownName(a)}`,
      );
    }
  }
  // Renamed while walduck was stopped: the replica holds it under the asked name, the source has it
  // under another. The other asked tables may have moved too (a_new took a's name as a became a_old):
  // the line gives the whole list to name.
  const named = all ?? asked;
  const namedKeys = new Set(named.map(refKey));
  const recorded = (await followedWithOid(duck, slot)).filter(
    (f): f is { record: TableRecord; oid: string } =>
      f.oid !== undefined && namedKeys.has(recordKey(f.record)),
  );
  const names = await namesByOid(
    query,
    recorded.map((f) => f.oid),
  );
  const now = new Map<string, string>();
  for (const { record, oid } of recorded) {
    const ref = names.get(oid);
    if (ref) now.set(recordKey(record), shownName(ref));
  }
  const gone = asked.find((a) => now.has(refKey(a)));
  if (gone === undefined) return undefined;
  const name = shownName(gone);
  const to = now.get(refKey(gone));
  const list = named.map((a) => now.get(refKey(a)) ?? shownName(a));
  const more = list.filter((n, i) => n !== shownName(named[i]!)).length > 1;
  return new RenamedTableError(
    `table ${name} was renamed to ${to} at the source ${SINCE_LAST_COMMIT}: name ${to} in --tables instead of ${name}${more ? ` (with the others renamed since: --tables ${list.join(',')})` : ''} (it goes on from the recorded position, renamed in DuckDB where the stream reaches the rename; no copy)`,
  );
}
