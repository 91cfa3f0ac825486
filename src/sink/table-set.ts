// The table set is part of the replica: walduck.tables holds, per slot, every source table walduck
// follows or followed, where it lands in DuckDB, its state, and (for a partitioned table) the leaf
// partitions routed to it. It is written in the DuckDB transaction that commits the rows it describes,
// read and compared with the source on every start, and listed by `walduck status`.
//
// States: streaming (followed), copying (being copied online while the others stream: its changes
// are merged with the copy, walduck.copies holds the progress, copy-state.ts), stopped (left as it
// is, no longer followed: removed from --tables or dropped at the source), skipped (exists at the
// source but cannot be replicated; all-tables mode).
// Compared on every start with the source (TableSet.reconcile):
//
//   - a table no longer chosen (left out of --tables, dropped at the source) is left as it is in
//     DuckDB and no longer followed, said in one line; --drop-removed drops its DuckDB table;
//   - a table chosen now that the replica did not follow (added to --tables, or followed before and
//     stopped) is copied online (state copying; its stale rows are replaced by the copy's first chunk),
//     never streamed into an empty table; one that cannot be copied in key chunks (no primary key, a
//     key type whose order walduck cannot reproduce) is refused in one line;
//   - in all-tables mode a table the record has never seen was created since: every row it holds went
//     through WAL after the recorded position, so it simply joins;
//   - a partition recorded for a root that is no longer one of its leaves (DETACH or DROP while walduck
//     was stopped), or a table attached while holding rows, moved rows without WAL: the root is
//     copied online again (refused in one line when it cannot be copied in key chunks).
//
// How the set is stored and read (walduck.tables, the state row's summary, resync's request) is
// table-records.ts; further per-table columns (a recorded schema, copy progress) belong there too,
// keyed the same way.
//
// Here: the start's comparison with the source (reconcile). What the set marks while it runs (a
// table followed, skipped, renamed or dropped while streaming, and the set's write at each commit)
// is table-set-marks.ts, which this class extends: the start records its decision through the same
// marks. What a start refuses before writing anything (a table landing where another's rows are) is
// table-set-checks.ts.

import type { DuckDBConnection } from '@duckdb/node-api';
import { formatLsn } from '../protocol/lsn.js';
import type { QueryFn, SourceTable } from '../source/catalog.js';
import type { Leaf } from '../source/leaf.js';
import { refKey, refName, type TableRef } from '../wal2json/change.js';
import { shownName, shownStoredName } from '../wal2json/shown-name.js';
import { SINCE_LAST_COMMIT } from '../wal2json/since-last-commit.js';
import { attachedCatalog, ensureStateTable, readState } from './checkpoint.js';
import { deleteCopy, readCopies, requestCopy } from './copy-state.js';
import { qualified, quoteIdent } from './sql.js';
import {
  ensureTableSet,
  type Mode,
  readRecorded,
  readTableSet,
  recordKey,
  recordRef,
  sameRecords,
  type TableRecord,
  TableSetError,
  writeRecorded,
} from './table-records.js';
import { refuseLandingCollisions } from './table-set-checks.js';
import { TableSetMarks } from './table-set-marks.js';
import { landingKey as lands, refuseSourceCollisions, targetSchema } from './target.js';

export interface ReconcileOptions {
  slot: string;
  mode: Mode;
  chosen: readonly SourceTable[];
  leaves: readonly Leaf[];
  /** pg_class's highest oid now, and a catalog query (for a new partition's rows). */
  maxOid: bigint;
  query: QueryFn;
  dropRemoved: boolean;
  /** Why a table cannot be copied online (source/key-order.ts), or undefined when it can. */
  copyProblem?: (t: SourceTable) => string | undefined;
  warn: (msg: string) => void;
  log: (msg: string) => void;
}

export class TableSet extends TableSetMarks {
  static async reconcile(duck: DuckDBConnection, o: ReconcileOptions): Promise<TableSet> {
    // Two chosen tables landing in one DuckDB table are refused before anything is recorded: refused
    // only later, at the sink, the start had recorded both, and the next start took the one left out
    // for a stopped table holding the other's DuckDB table (--drop-removed then dropped its rows).
    refuseSourceCollisions(o.chosen);
    const catalog = await attachedCatalog(duck);
    await ensureStateTable(duck, catalog);
    await ensureTableSet(duck);
    const state = await readState(duck, catalog, o.slot);
    const stored = await readTableSet(duck, o.slot);
    const set = new TableSet(o.slot, o.mode, new Map<string, TableRecord>(), o.maxOid);
    const leavesOf = (t: TableRef) =>
      o.leaves
        .filter((l) => refKey(l.root) === refKey(t))
        .map(refName)
        .sort();
    const chosenKeys = new Set(o.chosen.map(refKey));
    // Copies in progress (a table added or resynced, a run killed during its copy) go on.
    const copying = new Set(
      stored ? (await readCopies(duck, o.slot)).map(refKey).filter((k) => chosenKeys.has(k)) : [],
    );
    // The stored mode: from the state row's JSON when present; a set with no record of it is 'tables'.
    const previous = stored ? await readRecorded(duck, o.slot) : undefined;
    // Everything a start decides is written in one transaction, so a start refused part way (a later
    // table that cannot be copied online) leaves the file as it was: autocommitted one by one, the
    // copy requests, deleted copies and --drop-removed's DROPs before the refusal stayed.
    await duck.run('BEGIN TRANSACTION');
    try {
      await set.decide(duck, catalog, o, { stored, state, previous, copying, leavesOf });
      await duck.run('COMMIT');
    } catch (err) {
      await duck.run('ROLLBACK').catch(() => {});
      throw err;
    }
    return set;
  }

  private async decide(
    duck: DuckDBConnection,
    catalog: string,
    o: ReconcileOptions,
    known: {
      stored: TableRecord[] | undefined;
      state: { lsn: bigint } | undefined;
      previous: Awaited<ReturnType<typeof readRecorded>> | undefined;
      copying: Set<string>;
      leavesOf: (t: TableRef) => string[];
    },
  ): Promise<void> {
    const { stored, state, previous, copying, leavesOf } = known;
    const storedLsn = state?.lsn ?? 0n;
    const records = this.records;
    const current = new Map(o.chosen.map((t) => [refKey(t), t]));
    if (stored) {
      // Checked before anything is written.
      await refuseLandingCollisions(duck, catalog, stored, o.chosen, o.dropRemoved);
      const before = new Map(stored.map((r) => [recordKey(r), r]));
      const previousMode = previous?.mode;
      // Recorded tables by oid. One created while walduck ran, skipped then (no key) or still being
      // copied online, and renamed since, is no new table under its new name either: its rows went
      // past while it was skipped, or before its copy began (its name's record is left stopped).
      const recordedByOid = new Map(stored.flatMap((r) => (r.oid !== null ? [[r.oid, r] as const] : [])));
      // Partitions a followed root recorded that are not its leaves now. One DETACHed is a table of its
      // own (or under one detached with it): no new table either, even with an oid past the last
      // start's (created as a partition in that run), since its rows before the recorded position went
      // to the root, which is copied again without them. (A run that saw the DETACH recorded it as
      // skipped; one killed before committing that left only this.)
      const goneLeaves = new Set(
        stored.flatMap((r) =>
          r.state === 'streaming' || r.state === 'copying'
            ? r.leaves.filter((l) => !leavesOf(recordRef(r)).includes(l))
            : [],
        ),
      );
      for (const [k, r] of before) {
        const name = shownName(recordRef(r));
        if (current.has(k)) continue;
        // A copy cut short by the table's removal starts over if it is named again: it missed changes.
        await deleteCopy(duck, o.slot, recordRef(r));
        if (r.state === 'skipped' || (r.state === 'stopped' && !o.dropRemoved)) {
          records.set(k, r);
          continue;
        }
        // A followed table whose rows are in that DuckDB table (recorded with it by an older walduck,
        // or by a start refused after recording): only the record goes, not the rows.
        const there =
          r.targetSchema !== null && r.targetTable !== null && lands(r.targetSchema, r.targetTable);
        const sharer = o.chosen.find((t) => {
          const was = before.get(refKey(t));
          return (
            (was?.state === 'streaming' || was?.state === 'copying') &&
            lands(targetSchema(t.schema), t.table) === there
          );
        });
        if (o.dropRemoved && sharer) {
          o.warn(
            `${name} is no longer in the table set; its DuckDB table ${shownName({ schema: r.targetSchema ?? '?', table: r.targetTable ?? '?' })} is not dropped: it holds the rows of ${shownName(sharer)}, which lands there (DuckDB names are case-insensitive) and is followed`,
          );
          continue;
        }
        if (o.dropRemoved && r.targetSchema !== null && r.targetTable !== null) {
          await duck.run(
            `DROP TABLE IF EXISTS ${quoteIdent(catalog)}.${qualified(r.targetSchema, r.targetTable)}`,
          );
          o.warn(`${name} is no longer in the table set: --drop-removed dropped its DuckDB table`);
          continue;
        }
        o.warn(
          `${name} is no longer in the table set: its DuckDB table is left as it is (as of ${formatLsn(storedLsn)}) and no longer followed (--drop-removed drops it)`,
        );
        records.set(k, {
          ...r,
          state: 'stopped',
          lsn: formatLsn(storedLsn),
          note: 'removed from the table set',
        });
      }
      for (const [k, t] of current) {
        const r = before.get(k);
        // The same name, another oid: dropped and created again while walduck was stopped (a rename
        // keeps its oid). DuckDB holds the old table's rows, and no DROP is in WAL to remove them:
        // streamed on, the new table's rows were added to them, exit 0. Copied online instead; a copy
        // in progress starts over (it would resume at its recorded key, past the old rows below it).
        if (
          (r?.state === 'streaming' || r?.state === 'copying') &&
          r.oid !== null &&
          t.oid !== undefined &&
          /^\d+$/.test(t.oid) &&
          r.oid !== t.oid
        ) {
          const problem = o.copyProblem ? o.copyProblem(t) : 'walduck cannot copy it online here';
          if (problem !== undefined)
            throw new TableSetError(
              'WALDUCK_TABLE_REPLACED',
              `${shownName(t)} (oid ${r.oid}) was dropped and created again (oid ${t.oid}) ${SINCE_LAST_COMMIT}: its DuckDB table holds the dropped table's rows, and it cannot be re-copied online: ${problem}; start a new DuckDB file`,
            );
          o.warn(
            `${shownName(t)} (oid ${r.oid}) was dropped and created again (oid ${t.oid}) ${SINCE_LAST_COMMIT}: re-copying it online over the dropped table's rows`,
          );
          if (copying.has(k)) await deleteCopy(duck, o.slot, t);
          await requestCopy(duck, o.slot, t, 'created again');
          copying.add(k);
          continue;
        }
        if (copying.has(k)) continue;
        if (r?.state === 'streaming') {
          const now = new Set(leavesOf(t));
          const gone = r.leaves.filter((l) => !now.has(l));
          // A leaf whose oid the last record already covered existed then as a table of its own: it
          // was ATTACHed since, and rows it held then are not in WAL as the root's.
          const added = [...now].filter((l) => !r.leaves.includes(l));
          const full: string[] = [];
          // A leaf is recorded by refName; one that exists is shown by its parts, not split again.
          const shownLeaf = (name: string) => {
            const leaf = o.leaves.find((l) => refName(l) === name);
            return leaf ? shownName(leaf) : shownStoredName(name);
          };
          for (const name of added) {
            const leaf = o.leaves.find((l) => refName(l) === name);
            if (!leaf || previous?.maxOid === undefined || BigInt(leaf.oid) > previous.maxOid) continue;
            const rows = await o.query(
              `SELECT EXISTS (SELECT 1 FROM ONLY ${qualified(leaf.schema, leaf.table)})`,
            );
            if (rows[0]?.[0] === 't') full.push(name);
          }
          if (gone.length > 0 || full.length > 0) {
            // Rows came or went without WAL while walduck was stopped: copy the root again online.
            const why = [
              ...gone.map(
                (l) => `partition ${shownStoredName(l)} is no longer part of it (detached or dropped)`,
              ),
              ...full.map((l) => `table ${shownLeaf(l)} was attached as a partition while holding rows`),
            ].join('; ');
            const problem = o.copyProblem ? o.copyProblem(t) : 'walduck cannot copy it online here';
            if (problem !== undefined)
              throw new TableSetError(
                gone.length > 0 ? 'WALDUCK_PARTITION_DETACHED' : 'WALDUCK_PARTITION_ATTACHED',
                `${shownName(t)}: ${why} ${SINCE_LAST_COMMIT}, which moved rows without a change in WAL, and it cannot be re-copied online: ${problem}; start a new DuckDB file`,
              );
            o.warn(`${shownName(t)}: ${why} ${SINCE_LAST_COMMIT}: re-copying ${shownName(t)} online`);
            await requestCopy(duck, o.slot, t, why);
            copying.add(k);
            continue;
          }
          if (added.length > 0)
            o.warn(
              `partition ${added.map(shownLeaf).join(', ')} of ${shownName(t)} appeared ${SINCE_LAST_COMMIT}: followed from the recorded position; rows a table held when it was ATTACHed are not in WAL and would be missing`,
            );
          continue;
        }
        // An oid the last start already covered is not a new table: one renamed (or moved to another
        // schema) while walduck was stopped, whose rows are in DuckDB under its old name, or one the
        // last start skipped (no key), whose rows went past. Copied online.
        const renamed =
          !r &&
          o.mode === 'all' &&
          previousMode === 'all' &&
          t.oid !== undefined &&
          /^\d+$/.test(t.oid) &&
          previous?.maxOid !== undefined &&
          BigInt(t.oid) <= previous.maxOid;
        const recordedAs = !r && t.oid !== undefined ? recordedByOid.get(t.oid) : undefined;
        const detached = !r && (goneLeaves.has(refName(t)) || leavesOf(t).some((l) => goneLeaves.has(l)));
        if (!r && o.mode === 'all' && previousMode === 'all' && !renamed && !recordedAs && !detached) {
          o.log(
            `new table ${shownName(t)} since the last run: all its rows are in WAL after the recorded position`,
          );
          continue;
        }
        const problem = o.copyProblem ? o.copyProblem(t) : 'walduck cannot copy it online here';
        if (problem !== undefined) {
          throw new TableSetError(
            'WALDUCK_TABLE_ADDED',
            `table ${shownName(t)} joins the table set of an existing replica${r ? ` (recorded as ${r.state})` : ''}, but its rows are not in DuckDB and ${problem}`,
          );
        }
        let why = '';
        if (r) why = ` (recorded as ${r.state})`;
        else if (recordedAs?.state === 'skipped')
          why = ` (skipped as ${shownName(recordRef(recordedAs))} when created while walduck ran, renamed since)`;
        else if (recordedAs)
          why = ` (recorded as ${shownName(recordRef(recordedAs))}, ${recordedAs.state}, renamed since)`;
        else if (detached) why = ` (a partition of a followed table, detached ${SINCE_LAST_COMMIT})`;
        else if (renamed)
          why =
            ' (it existed at the last start: skipped then for want of a key, or under another name or as a partition, renamed, moved or detached since)';
        o.warn(
          `table ${shownName(t)} joins the table set of an existing replica${why}: it is copied online while the others stream (state copying)`,
        );
        await requestCopy(duck, o.slot, t, r ? 'named again' : 'added');
        copying.add(k);
      }
    }
    const prior = new Map((stored ?? []).map((r) => [recordKey(r), r]));
    for (const t of o.chosen) this.follow(t, leavesOf(t), prior.get(refKey(t)));
    for (const k of copying) this.setState(k, 'copying');
    // An existing replica records the set now, not at the next commit: a run with nothing to apply
    // (--until-caught-up on a quiet source) must still leave what it decided (a table stopped or
    // dropped) in the file. A new file has no state row yet: its first commit writes both. A start
    // that decided nothing new writes nothing (it rewrote every record, and DuckDB checkpointed that
    // at exit); one that did writes in one transaction: each statement on its own committed (and
    // synced) by itself, and a kill between the DELETE and the INSERTs lost the slot's records.
    // pg_class's highest oid moves with any object made at the source (a temporary table, an
    // index): alone, it is one UPDATE of the state row, not a rewrite of every record.
    this.dirty =
      stored === undefined || previous?.mode !== o.mode || !sameRecords(stored, [...records.values()]);
    if (state !== undefined && !this.dirty && previous?.maxOid !== o.maxOid)
      await writeRecorded(duck, o.slot, [...records.values()], o.mode, o.maxOid);
    if (state !== undefined && this.dirty) await this.write(duck);
  }
}
