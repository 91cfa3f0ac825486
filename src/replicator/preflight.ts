// Everything before streaming: open DuckDB, check the source (wal_level, identity, tables), open the
// sink, decide the slot and the start LSN (creating the slot, with the initial snapshot, when it is
// new). What it returns is all the loop needs to start.
//
// Here: prepare, the first session's checks and tables, the table set and the sink. The server's
// checks are preflight-checks.ts, the slot decision and start LSN (every session's, a reconnect's
// alone) preflight-slot.ts, and the options and result preflight-options.ts (re-exported here).

import type { Connection, ConnectionSettings } from '../protocol/index.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { DuckDbSink } from '../sink/duckdb-sink.js';
import { landingProblem } from '../sink/landing-problem.js';
import { renamedAway, underRecordedNames } from '../sink/renamed-at-start.js';
import type { ChangeSink } from '../sink/sink.js';
import { readTableSet, recordKey } from '../sink/table-records.js';
import { TableSet } from '../sink/table-set.js';
import { CatalogError, type QueryFn, type SkippedTable, type SourceTable } from '../source/catalog.js';
import { keyOrder, keyOrderProblem } from '../source/key-order.js';
import { quoteLiteral } from '../source/quote.js';
import { sourceSchemaCatalog } from '../source/schema-catalog.js';
import { defaultSlotName, slotNameProblem } from '../source/slot.js';
import { readSourceTables } from '../source/source-tables.js';
import { refKey, refName, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { ReplicateError } from './errors.js';
import {
  checkSameSource,
  checkServer,
  type DuckConnection,
  databaseHoldsMoney,
  readMoneyLocale,
} from './preflight-checks.js';
import type { PreflightOptions, Prepared } from './preflight-options.js';
import { decideSlot } from './preflight-slot.js';
import type { SinkFactory } from './replicate-options.js';
import { SourceCatalog } from './source-catalog.js';
import { openRouting, type Routing } from './table-routing.js';

export type { EarlyStream, PreflightOptions, Prepared } from './preflight-options.js';

/**
 * The preflight. `again` is the sink and tables of an earlier session of this run (a reconnect): the
 * catalog is not read again and the sink stays open; the slot decision is made afresh against what
 * the sink holds now.
 */
export async function prepare(
  src: Connection,
  duck: DuckConnection | undefined,
  settings: ConnectionSettings,
  o: PreflightOptions,
  again?: Prepared,
): Promise<Prepared> {
  if (again) return await decideSlot(src, settings, o, again);
  // The first session opens the run's side connections: closed again if it fails before the loop.
  const catalog = new SourceCatalog(settings, o.log);
  let routing: Routing | undefined;
  try {
    await checkServer(src);
    const system = await src.identifySystem();
    const database = system.dbName ?? '';
    const slotName = o.slot ?? defaultSlotName(database);
    const badName = slotNameProblem(slotName);
    if (badName !== undefined) throw new ReplicateError('config', 'WALDUCK_SLOT_NAME', badName);
    if (duck) await checkSameSource(duck, slotName, o.duckdb, system.systemId, database);
    const srcQuery: QueryFn = async (sql) => (await src.query(sql))[0]?.rows ?? [];
    // All-tables mode: the tables left out for want of a row identity, looked at again while streaming.
    const noIdentity: SkippedTable[] = [];
    const skip = (t: SkippedTable) => noIdentity.push(t);
    const read = await readSourceTables(srcQuery, o.tables, o.warn, skip).catch(async (err: unknown) => {
      // A followed table named by a name it no longer has: say it was renamed, and to what.
      if (duck && o.tables && err instanceof CatalogError && err.code === 'WALDUCK_UNKNOWN_TABLE') {
        const missing: TableRef[] = [];
        for (const t of o.tables)
          if (
            (
              await srcQuery(
                `SELECT to_regclass(${quoteLiteral(`"${t.schema.replaceAll('"', '""')}"."${t.table.replaceAll('"', '""')}"`)})`,
              )
            )[0]?.[0] == null
          )
            missing.push(t);
        const renamed = await renamedAway(duck, slotName, missing, srcQuery, o.tables);
        if (renamed) throw renamed;
      }
      throw err;
    });
    const allTables = !o.tables || o.tables.length === 0;
    // The database's money, for the tables described below and those that join (money-locale.ts).
    // (Only when a table holds money: it takes one more walsender, which max_wal_senders may not allow.)
    const money =
      duck && (await databaseHoldsMoney(src)) ? await readMoneyLocale(settings, o.log) : undefined;
    const refusal = duck ? (t: SourceTable) => landingProblem(t, money) : undefined;
    // All-tables mode: a table that cannot land in DuckDB is skipped as one without a key is, and
    // looked at again while streaming (--tables refuses it in one line when it is described). One the
    // replica follows already (a column added, or the database's lc_monetary changed) is not: taken
    // out of the set it would be stopped, or dropped by --drop-removed, and never join in the run; it
    // stays in, and the sink refuses it in one line saying what to do.
    const refused = new Map<string, string>();
    const followed = new Set(
      (duck && allTables ? ((await readTableSet(duck, slotName).catch(() => undefined)) ?? []) : [])
        .filter((r) => r.state === 'streaming' || r.state === 'copying')
        .flatMap((r) => [recordKey(r), ...(r.oid ? [`oid:${r.oid}`] : [])]),
    );
    const isFollowed = (t: SourceTable) => followed.has(refKey(t)) || followed.has(`oid:${t.oid}`);
    const landing: SourceTable[] = [];
    for (const t of read) {
      const why = allTables && !isFollowed(t) ? refusal?.(t) : undefined;
      if (why === undefined) {
        landing.push(t);
        continue;
      }
      o.warn(
        `not replicating ${shownName(t)}: ${why}; its changes are dropped (state skipped) until the table is changed at the source (the column renamed, or money made numeric); then it is copied online (within about a second while walduck runs, or at the next start)`,
      );
      if (t.oid === undefined) continue;
      noIdentity.push({ schema: t.schema, table: t.table, oid: t.oid });
      refused.set(refKey(t), why);
    }
    if (landing.length === 0)
      throw new ReplicateError(
        'preflight',
        'WALDUCK_NO_TABLES',
        'no table on the source can be replicated into DuckDB: change them at the source as the lines above say',
      );
    // Renamed while walduck was stopped: followed under the recorded name until the stream's rename.
    const tables = duck ? await underRecordedNames(duck, slotName, landing, srcQuery, o.warn) : landing;
    o.log(`tables: ${tables.map((t) => shownName(t)).join(', ')}`);
    let tableSet: TableSet | undefined;
    const opened = await openRouting(settings, tables, {
      allTables,
      followRenames: duck !== undefined,
      log: o.log,
      warn: o.warn,
      onLeaf: (leaf) => tableSet?.addLeaf(leaf),
      onLeafGone: (leaf) => tableSet?.removeLeaf(leaf),
      onTableGone: (t) => tableSet?.dropped(t),
      onTableReplaced: (t) => tableSet?.replaced(t),
      onTableSkipped: (t, oid, why) => tableSet?.skipped(t, oid, why),
      ...(refusal ? { refusal } : {}),
    });
    routing = opened;
    // The stored table set belongs to a DuckDB replica; a caller's sink keeps its own.
    tableSet =
      duck &&
      (await TableSet.reconcile(duck, {
        slot: slotName,
        mode: allTables ? 'all' : 'tables',
        chosen: tables,
        leaves: opened.leaves,
        maxOid: opened.maxOid,
        query: opened.query,
        dropRemoved: o.dropRemoved ?? false,
        copyProblem: keyOrderProblem,
        warn: o.warn,
        log: o.log,
      }));
    const set = tableSet;
    // One a record stopped (followed before, its DuckDB table kept as it was) joins by the next
    // start's decision, not here; a recorded name a followed table still has (renamed while walduck
    // was stopped) is that table's until the stream's rename.
    const chosenKeys = new Set(tables.map(refKey));
    const skippedNow = noIdentity.filter((t) => !chosenKeys.has(refKey(t)) && (set?.mayJoinLive(t) ?? true));
    opened.router.skippedAtStart(skippedNow);
    // Recorded as skipped (at the first DuckDB commit): the slot passes their rows. Without a record a
    // table dropped and created again under such a name while walduck runs (its changes dropped with
    // the name's) looked new since the last run at the next start, all its rows in WAL, and was not
    // copied (exit 0, verify DIFFERENT).
    for (const t of skippedNow)
      set?.skipped(
        t,
        t.oid,
        refused.get(refKey(t)) ?? 'no primary key or replica identity when walduck started',
      );
    const sink: ChangeSink = duck
      ? await DuckDbSink.open(duck, tables, {
          slot: slotName,
          batchChanges: o.batchChanges,
          batchMs: o.batchMs,
          ...(o.duckdbMemoryLimit ? { memoryLimit: o.duckdbMemoryLimit } : {}),
          log: o.sinkLog ?? o.log,
          warn: o.warn,
          meta: { systemId: system.systemId, database },
          ...(money ? { money } : {}),
          schema: {
            onDropColumn: o.onDropColumn ?? 'keep',
            onTypeChange: o.onTypeChange ?? 'stop',
            catalog: sourceSchemaCatalog((sql) => catalog.query(sql)),
            ...(o.numeric ? { numeric: o.numeric } : {}),
          },
          ...(o.numeric ? { numeric: o.numeric } : {}),
          router: opened.router,
          keyCompare: (source) => {
            // A copy recorded for a table whose key has no copy order (resync after a key change).
            const problem = keyOrderProblem(source);
            if (problem !== undefined)
              throw new ReplicateError(
                'preflight',
                'WALDUCK_RESYNC_TABLE',
                `${shownName(source)} cannot be copied online: ${problem}`,
              );
            return keyOrder(source).compare;
          },
          // The table as the catalog has it now, for a re-copy with a changed schema.
          readSource: async (t: TableRef) => {
            const [table] = await readSourceTables((sql) => catalog.query(sql), [t]);
            if (!table)
              throw new ReplicateError(
                'apply',
                'WALDUCK_TABLE_MISSING',
                `${shownName(t)} is gone at the source`,
              );
            return { table, copyProblem: keyOrderProblem(table) };
          },
          ...(set
            ? {
                // With the leaves it joined with (onLeaf came before its record): a start comparing
                // them finds none added, and takes no leaf for one ATTACHed while walduck was stopped.
                onTableAdded: (t: SourceTable) =>
                  set.follow(t, opened.router.leavesOf(t).map(refName).sort()),
                collision: set.collision.bind(set),
                replacesDropped: set.replacesDropped.bind(set),
                onTablesRenamed: (renames: readonly { from: TableRef; to: TableRef }[], lsn: Lsn) =>
                  set.renamed(renames, formatLsn(lsn)),
                beforeCommit: set.write.bind(set),
                onCopied: (t: TableRef) => set.setState(t, 'streaming'),
                onRecopy: (t: TableRef) => set.setState(t, 'copying'),
              }
            : {}),
        })
      : await (o.sink as SinkFactory)({ tables, slot: slotName, systemId: system.systemId, database });
    const first: Prepared = {
      sink,
      slot: slotName,
      tables,
      refused: new Set(noIdentity.flatMap((t) => (refused.has(refKey(t)) ? [t.oid] : []))),
      filter: opened.filter,
      system,
      startLsn: 0n,
      routing: opened,
      catalog,
      close: async () => {
        await opened.close();
        await catalog.close();
      },
    };
    return await decideSlot(src, settings, o, first, true);
  } catch (err) {
    await routing?.close().catch(() => {});
    await catalog.close().catch(() => {});
    throw err;
  }
}
