// The table set is part of the replica: walduck.tables holds, per slot, every source table walduck
// follows or followed, where it lands in DuckDB, its state, and (for a partitioned table) the leaf
// partitions routed to it. It is written in the DuckDB transaction that commits the rows it describes,
// read and compared with the source on every start, and listed by `walduck status`.
//
// States: streaming (followed), copying (being copied online while the others stream: its changes are
// merged with the copy, walduck.copies holds the progress, copy-state.ts), stopped (left as it is, no longer followed: removed from --tables or
// dropped at the source), skipped (exists at the source but cannot be replicated; all-tables mode).
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
// While streaming, tables created at the source (all-tables mode) and partitions joining a root are
// added here and written with the next DuckDB commit.
//
// Further per-table columns (a recorded schema, copy progress) belong here too, keyed the same way.

import type { DuckDBConnection } from '@duckdb/node-api';
import { WalduckError } from '../protocol/errors.js';
import { formatLsn } from '../protocol/lsn.js';
import type { QueryFn, SourceTable } from '../source/catalog.js';
import type { Leaf } from '../source/leaves.js';
import { refKey, refName, type TableRef } from '../wal2json/change.js';
import { attachedCatalog, ensureStateTable, readState } from './checkpoint.js';
import { deleteCopy, readCopies, requestCopy } from './copy-state.js';
import { qualified, quoteIdent, quoteLiteral } from './sql.js';
import { heldRows, refuseSourceCollisions, STATE_SCHEMA, targetSchema } from './target.js';

export class TableSetError extends WalduckError {
  override readonly name = 'TableSetError';
  readonly phase = 'preflight';
  constructor(
    readonly code:
      | 'WALDUCK_PARTITION_DETACHED'
      | 'WALDUCK_PARTITION_ATTACHED'
      | 'WALDUCK_TABLE_ADDED'
      | 'WALDUCK_TABLE_COLLISION'
      | 'WALDUCK_RESYNC_TABLE',
    message: string,
  ) {
    super(message);
  }
}

/** walduck.<name> qualified with the attached database (a file named walduck.duckdb would make it ambiguous). */
async function stateRef(conn: DuckDBConnection, name: string): Promise<string> {
  return `${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}.${quoteIdent(name)}`;
}

export type TableState = 'streaming' | 'copying' | 'stopped' | 'skipped';

export interface TableRecord {
  readonly sourceSchema: string;
  readonly sourceTable: string;
  readonly targetSchema: string | null;
  readonly targetTable: string | null;
  readonly state: TableState;
  /** Leaf partitions ("schema.table", as JSON in the file) routed to this table. */
  readonly leaves: readonly string[];
  /** When it entered this state (stopped: the last LSN applied to it). */
  readonly lsn: string | null;
  readonly note: string | null;
  /** pg_class oid of the source table (a rename keeps it); null in a file from an older walduck until its next start. */
  readonly oid: string | null;
  /** Names it had before, oldest first, with the LSN each rename was applied at (RENAME TABLE, SET SCHEMA). */
  readonly renamedFrom: readonly { readonly name: string; readonly lsn: string }[];
}

/** The source table a record names. */
export const recordRef = (r: TableRecord): TableRef => ({ schema: r.sourceSchema, table: r.sourceTable });
/** A record's key as refKey gives it: "a.b"."c" and "a"."b.c" are two tables. */
export const recordKey = (r: TableRecord): string => refKey(recordRef(r));

/** Which DuckDB table a schema and table name land in, as DuckDB matches names: case-insensitively. */
const lands = (schema: string, table: string) => `${schema.toLowerCase()}\u0000${table.toLowerCase()}`;

/**
 * The record of another source table whose DuckDB table `t` would land in, among `kept` (records no
 * longer followed, whose DuckDB tables stay as they are): DuckDB matches names case-insensitively and
 * PostgreSQL's public lands in main, so a stopped "Orders" and a chosen orders share one DuckDB table.
 * Following orders there would overwrite (an online copy) or mix into the rows kept for "Orders".
 */
export function keptHolder(kept: Iterable<TableRecord>, t: TableRef): TableRecord | undefined {
  const mine = lands(targetSchema(t.schema), t.table);
  for (const r of kept)
    if (
      recordKey(r) !== refKey(t) &&
      r.targetSchema !== null &&
      r.targetTable !== null &&
      lands(r.targetSchema, r.targetTable) === mine
    )
      return r;
  return undefined;
}

/** One line for keptHolder's finding: what collides, and the two ways out. */
export function keptCollision(t: TableRef, holder: TableRecord): string {
  return `${refName(t)} would land in DuckDB table ${targetSchema(t.schema)}.${t.table}, which holds ${refName(recordRef(holder))}, no longer followed and left as it is (DuckDB names are case-insensitive, and PostgreSQL's public lands in main): start with --drop-removed to drop that table first, or replicate ${refName(t)} into another DuckDB file`;
}

export async function ensureTableSet(conn: DuckDBConnection): Promise<void> {
  const tables = await stateRef(conn, 'tables');
  await conn.run(
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}`,
  );
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${tables} (
       slot VARCHAR NOT NULL,
       source_schema VARCHAR NOT NULL,
       source_table VARCHAR NOT NULL,
       target_schema VARCHAR,
       target_table VARCHAR,
       state VARCHAR NOT NULL,
       partitions VARCHAR,
       lsn VARCHAR,
       note VARCHAR,
       updated_at TIMESTAMPTZ NOT NULL)`,
  );
  // Added after the first files were written: an older file learns them here (empty until its next write).
  await conn.run(`ALTER TABLE ${tables} ADD COLUMN IF NOT EXISTS oid VARCHAR`);
  await conn.run(`ALTER TABLE ${tables} ADD COLUMN IF NOT EXISTS renamed_from VARCHAR`);
}

/** The recorded set, or undefined when this file has none for the slot (new, or from an older walduck). */
export async function readTableSet(conn: DuckDBConnection, slot: string): Promise<TableRecord[] | undefined> {
  const tables = await stateRef(conn, 'tables');
  const r = await conn.runAndReadAll(
    `SELECT source_schema, source_table, target_schema, target_table, state, partitions, lsn, note, oid, renamed_from
       FROM ${tables} WHERE slot = ${quoteLiteral(slot)} ORDER BY source_schema, source_table`,
  );
  const rows = r.getRows();
  if (rows.length === 0) return undefined;
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return rows.map((row) => ({
    sourceSchema: String(row[0]),
    sourceTable: String(row[1]),
    targetSchema: str(row[2]),
    targetTable: str(row[3]),
    state: String(row[4]) as TableState,
    leaves: row[5] === null ? [] : (JSON.parse(String(row[5])) as string[]),
    lsn: str(row[6]),
    note: str(row[7]),
    oid: str(row[8]),
    renamedFrom: row[9] === null ? [] : (JSON.parse(String(row[9])) as { name: string; lsn: string }[]),
  }));
}

/** Replaces the slot's recorded set; call inside the transaction whose rows it describes. */
export async function writeTableSet(
  conn: DuckDBConnection,
  slot: string,
  records: readonly TableRecord[],
  mode: string,
  maxOid: bigint,
): Promise<void> {
  const lit = (v: string | null) => (v === null ? 'NULL' : quoteLiteral(v));
  const tables = await stateRef(conn, 'tables');
  await conn.run(`DELETE FROM ${tables} WHERE slot = ${quoteLiteral(slot)}`);
  for (const t of records) {
    await conn.run(
      `INSERT INTO ${tables} (slot, source_schema, source_table, target_schema, target_table, state, partitions, lsn, note, updated_at, oid, renamed_from)
         VALUES (${quoteLiteral(slot)}, ${lit(t.sourceSchema)}, ${lit(t.sourceTable)}, ${lit(t.targetSchema)}, ${lit(t.targetTable)}, ${lit(t.state)}, ${lit(t.leaves.length > 0 ? JSON.stringify(t.leaves) : null)}, ${lit(t.lsn)}, ${lit(t.note)}, now(), ${lit(t.oid)}, ${lit(t.renamedFrom.length > 0 ? JSON.stringify(t.renamedFrom) : null)})`,
    );
  }
  await writeRecorded(conn, slot, records, mode, maxOid);
}

/** walduck.state.tables: the mode and the followed names, for a reader of the state row alone. */
async function writeRecorded(
  conn: DuckDBConnection,
  slot: string,
  records: readonly TableRecord[],
  mode: string,
  maxOid: bigint,
): Promise<void> {
  const followed = records
    .filter((t) => t.state === 'streaming' || t.state === 'copying')
    .map((t) => `${t.sourceSchema}.${t.sourceTable}`);
  await conn.run(
    `UPDATE ${await stateRef(conn, 'state')} SET tables = ${quoteLiteral(JSON.stringify({ mode, tables: followed, maxOid: String(maxOid) }))} WHERE slot = ${quoteLiteral(slot)}`,
  );
}

export type Mode = 'all' | 'tables';

export class TableSet {
  private dirty = false;

  private constructor(
    private readonly slot: string,
    private readonly mode: Mode,
    private readonly records: Map<string, TableRecord>,
    private readonly maxOid: bigint,
  ) {}

  static async reconcile(
    duck: DuckDBConnection,
    o: {
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
    },
  ): Promise<TableSet> {
    // Two chosen tables landing in one DuckDB table are refused before anything is recorded: refused
    // only later, at the sink, the start had recorded both, and the next start took the one left out
    // for a stopped table holding the other's DuckDB table (--drop-removed then dropped its rows).
    refuseSourceCollisions(o.chosen);
    const catalog = await attachedCatalog(duck);
    await ensureStateTable(duck, catalog);
    await ensureTableSet(duck);
    const state = await readState(duck, catalog, o.slot);
    const storedLsn = state?.lsn ?? 0n;
    const stored = await readTableSet(duck, o.slot);
    const records = new Map<string, TableRecord>();
    const set = new TableSet(o.slot, o.mode, records, o.maxOid);
    const leavesOf = (t: TableRef) =>
      o.leaves
        .filter((l) => refKey(l.root) === refKey(t))
        .map(refName)
        .sort();
    const current = new Map(o.chosen.map((t) => [refKey(t), t]));
    // Copies in progress (a table added or resynced, a run killed during its copy) go on.
    const copying = new Set(
      stored ? (await readCopies(duck, o.slot)).map(refKey).filter((k) => current.has(k)) : [],
    );
    // The stored mode: from the state row's JSON when present; a set with no record of it is 'tables'.
    const previous = stored ? await readRecorded(duck, o.slot) : undefined;
    if (stored) {
      // Checked before anything is written: a refused start leaves the file as it was.
      const kept = stored.filter(
        (r) => !current.has(recordKey(r)) && (r.state === 'skipped' || !o.dropRemoved),
      );
      for (const t of o.chosen) {
        const holder = keptHolder(kept, t);
        if (holder) throw new TableSetError('WALDUCK_TABLE_COLLISION', keptCollision(t, holder));
      }
      // A table joining with no record, whose DuckDB table holds rows no record of this replica
      // accounts for (made by hand, or another slot's): its online copy replaced them, exit 0.
      const landed = new Set(
        stored.flatMap((r) =>
          r.targetSchema !== null && r.targetTable !== null ? [lands(r.targetSchema, r.targetTable)] : [],
        ),
      );
      for (const t of o.chosen) {
        // (walduck's own schema: describeTarget refuses that in its own words.)
        if (landed.has(lands(targetSchema(t.schema), t.table)) || t.schema.toLowerCase() === STATE_SCHEMA)
          continue;
        const found = await heldRows(duck, catalog, targetSchema(t.schema), t.table);
        if (found !== undefined)
          throw new TableSetError(
            'WALDUCK_TABLE_COLLISION',
            `${refName(t)} joins this replica, but its DuckDB table ${found} already holds rows walduck did not write for it (made by hand, another slot's, or another table's: DuckDB names are case-insensitive): copying ${refName(t)} there would replace them; drop or rename that DuckDB table, or replicate ${refName(t)} into another DuckDB file`,
          );
      }
      const before = new Map(stored.map((r) => [recordKey(r), r]));
      const previousMode = previous?.mode;
      for (const [k, r] of before) {
        const name = `${r.sourceSchema}.${r.sourceTable}`;
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
            `${name} is no longer in the table set; its DuckDB table ${r.targetSchema}.${r.targetTable} is not dropped: it holds the rows of ${refName(sharer)}, which lands there (DuckDB names are case-insensitive) and is followed`,
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
        if (copying.has(k)) continue;
        if (r?.state === 'streaming') {
          const now = new Set(leavesOf(t));
          const gone = r.leaves.filter((l) => !now.has(l));
          // A leaf whose oid the last record already covered existed then as a table of its own: it
          // was ATTACHed since, and rows it held then are not in WAL as the root's.
          const added = [...now].filter((l) => !r.leaves.includes(l));
          const full: string[] = [];
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
              ...gone.map((l) => `partition ${l} is no longer part of it (detached or dropped)`),
              ...full.map((l) => `table ${l} was attached as a partition while holding rows`),
            ].join('; ');
            const problem = o.copyProblem ? o.copyProblem(t) : 'walduck cannot copy it online here';
            if (problem !== undefined)
              throw new TableSetError(
                gone.length > 0 ? 'WALDUCK_PARTITION_DETACHED' : 'WALDUCK_PARTITION_ATTACHED',
                `${refName(t)}: ${why} while walduck was stopped, which moved rows without a change in WAL, and it cannot be re-copied online: ${problem}; start a new DuckDB file`,
              );
            o.warn(`${refName(t)}: ${why} while walduck was stopped: re-copying ${refName(t)} online`);
            await requestCopy(duck, o.slot, t, why);
            copying.add(k);
            continue;
          }
          if (added.length > 0)
            o.warn(
              `partition ${added.join(', ')} of ${refName(t)} appeared while walduck was stopped: followed from the recorded position; rows a table held when it was ATTACHed are not in WAL and would be missing`,
            );
          continue;
        }
        // An oid the last start already covered is not a new table: one renamed (or moved to another
        // schema) while walduck was stopped, whose rows are in DuckDB under its old name. Copied online.
        const renamed =
          !r &&
          o.mode === 'all' &&
          previousMode === 'all' &&
          t.oid !== undefined &&
          /^\d+$/.test(t.oid) &&
          previous?.maxOid !== undefined &&
          BigInt(t.oid) <= previous.maxOid;
        if (!r && o.mode === 'all' && previousMode === 'all' && !renamed) {
          o.log(
            `new table ${refName(t)} since the last run: all its rows are in WAL after the recorded position`,
          );
          continue;
        }
        const problem = o.copyProblem ? o.copyProblem(t) : 'walduck cannot copy it online here';
        if (problem !== undefined) {
          throw new TableSetError(
            'WALDUCK_TABLE_ADDED',
            `table ${refName(t)} joins the table set of an existing replica${r ? ` (recorded as ${r.state})` : ''}, but its rows are not in DuckDB and ${problem}`,
          );
        }
        o.warn(
          `table ${refName(t)} joins the table set of an existing replica${r ? ` (recorded as ${r.state})` : renamed ? ' (it existed at the last start under another name or as a partition: renamed, moved or detached while walduck was stopped)' : ''}: it is copied online while the others stream (state copying)`,
        );
        await requestCopy(duck, o.slot, t, r ? 'named again' : 'added');
        copying.add(k);
      }
    }
    const prior = new Map((stored ?? []).map((r) => [recordKey(r), r]));
    for (const t of o.chosen) set.follow(t, leavesOf(t), prior.get(refKey(t)));
    for (const k of copying) set.setState(k, 'copying');
    // An existing replica records the set now, not at the next commit: a run with nothing to apply
    // (--until-caught-up on a quiet source) must still leave what it decided (a table stopped or
    // dropped) in the file. A new file has no state row yet: its first commit writes both. A start
    // that decided nothing new writes nothing (it rewrote every record, and DuckDB checkpointed that
    // at exit); one that did writes in one transaction: each statement on its own committed (and
    // synced) by itself, and a kill between the DELETE and the INSERTs lost the slot's records.
    // pg_class's highest oid moves with any object made at the source (a temporary table, an
    // index): alone, it is one UPDATE of the state row, not a rewrite of every record.
    set.dirty =
      stored === undefined || previous?.mode !== o.mode || !sameRecords(stored, [...records.values()]);
    if (state !== undefined && !set.dirty && previous?.maxOid !== o.maxOid)
      await writeRecorded(duck, o.slot, [...records.values()], o.mode, o.maxOid);
    if (state !== undefined && set.dirty) {
      await duck.run('BEGIN TRANSACTION');
      try {
        await set.write(duck);
        await duck.run('COMMIT');
      } catch (err) {
        await duck.run('ROLLBACK').catch(() => {});
        throw err;
      }
    }
    return set;
  }

  /**
   * Why `t`, joining while streaming (a table created at the source), cannot land in its DuckDB table:
   * one no longer followed holds it (keptHolder). Undefined when it can.
   */
  collision(t: TableRef): string | undefined {
    const kept = [...this.records.values()].filter((r) => r.state === 'stopped' || r.state === 'skipped');
    const holder = keptHolder(kept, t);
    return holder && keptCollision(t, holder);
  }

  /** A table followed from now on (at start, or created at the source while streaming). */
  follow(t: SourceTable, leaves: readonly string[] = [], prior?: TableRecord): void {
    const was = prior ?? this.records.get(refKey(t));
    this.records.set(refKey(t), {
      sourceSchema: t.schema,
      sourceTable: t.table,
      targetSchema: targetSchema(t.schema),
      targetTable: t.table,
      state: 'streaming',
      leaves,
      lsn: null,
      note: was?.renamedFrom.length ? was.note : null,
      oid: t.oid !== undefined && /^\d+$/.test(t.oid) ? t.oid : (was?.oid ?? null),
      renamedFrom: was?.renamedFrom ?? [],
    });
    this.dirty = true;
  }

  /** A followed table renamed at the source (RENAME TABLE, SET SCHEMA), at `lsn` of the stream. */
  renamed(from: TableRef, to: TableRef, lsn: string): void {
    const r = this.records.get(refKey(from));
    if (!r) return;
    this.records.delete(refKey(from));
    this.records.set(refKey(to), {
      ...r,
      sourceSchema: to.schema,
      sourceTable: to.table,
      targetSchema: targetSchema(to.schema),
      targetTable: to.table,
      note: `renamed from ${refName(from)} at LSN ${lsn}`,
      renamedFrom: [...r.renamedFrom, { name: refName(from), lsn }],
    });
    this.dirty = true;
  }

  /** A table's state from now on (copying -> streaming when its online copy ends). */
  setState(t: TableRef | string, state: TableState): void {
    const k = typeof t === 'string' ? t : refKey(t);
    const r = this.records.get(k);
    if (!r || r.state === state) return;
    this.records.set(k, { ...r, state });
    this.dirty = true;
  }

  /** A partition routed to its root while streaming. */
  addLeaf(leaf: Leaf): void {
    const r = this.records.get(refKey(leaf.root));
    if (!r || r.leaves.includes(refName(leaf))) return;
    this.records.set(refKey(leaf.root), { ...r, leaves: [...r.leaves, refName(leaf)].sort() });
    this.dirty = true;
  }

  /**
   * A table dropped at the source while streaming: stopped, as a table removed from the set is. Its
   * changes before the DROP still apply (the stream may not have reached it); none come after.
   */
  dropped(t: TableRef): void {
    const r = this.records.get(refKey(t));
    if (!r || r.state === 'stopped') return;
    this.records.set(refKey(t), { ...r, state: 'stopped', note: 'dropped at the source' });
    this.dirty = true;
  }

  /** A partition detached or dropped while streaming (its root is re-copied). */
  removeLeaf(leaf: Leaf): void {
    const r = this.records.get(refKey(leaf.root));
    if (!r?.leaves.includes(refName(leaf))) return;
    this.records.set(refKey(leaf.root), { ...r, leaves: r.leaves.filter((l) => l !== refName(leaf)) });
    this.dirty = true;
  }

  /** Inside the DuckDB transaction that commits the rows: the set as it now is. */
  async write(conn: DuckDBConnection): Promise<void> {
    if (!this.dirty) return;
    await writeTableSet(conn, this.slot, [...this.records.values()], this.mode, this.maxOid);
    this.dirty = false;
  }
}

/** Whether two table sets record the same (the write time aside), in any order. */
function sameRecords(a: readonly TableRecord[], b: readonly TableRecord[]): boolean {
  if (a.length !== b.length) return false;
  const text = (r: TableRecord) =>
    JSON.stringify([
      r.sourceSchema,
      r.sourceTable,
      r.targetSchema,
      r.targetTable,
      r.state,
      r.leaves,
      r.lsn,
      r.note,
      r.oid,
      r.renamedFrom.map((f) => [f.name, f.lsn]),
    ]);
  const mine = new Set(a.map(text));
  return b.every((r) => mine.has(text(r)));
}

/** What the state row's `tables` JSON recorded: the mode, and pg_class's highest oid at that start. */
export async function readRecorded(
  duck: DuckDBConnection,
  slot: string,
): Promise<{ mode: Mode | undefined; maxOid: bigint | undefined } | undefined> {
  const r = await duck.runAndReadAll(`SELECT tables FROM ${await stateRef(duck, 'state')} WHERE slot = $1`, [
    slot,
  ]);
  const v = r.getRows()[0]?.[0];
  if (typeof v !== 'string') return undefined;
  try {
    const j = JSON.parse(v) as { mode?: unknown; maxOid?: unknown };
    return {
      mode: j.mode === 'all' || j.mode === 'tables' ? j.mode : undefined,
      maxOid: typeof j.maxOid === 'string' && /^\d+$/.test(j.maxOid) ? BigInt(j.maxOid) : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * `walduck resync`: records that `t` is to be copied again online, by the next `walduck replicate`
 * (which holds the file while it runs). Returns the slot. The table keeps its rows until the copy's
 * first chunk replaces them.
 */
export async function requestResync(duck: DuckDBConnection, t: TableRef, slot?: string): Promise<string> {
  await ensureTableSet(duck);
  const tables = await stateRef(duck, 'tables');
  const r = await duck.runAndReadAll(
    `SELECT slot, state FROM ${tables} WHERE source_schema = ${quoteLiteral(t.schema)} AND source_table = ${quoteLiteral(t.table)}${slot === undefined ? '' : ` AND slot = ${quoteLiteral(slot)}`}`,
  );
  const rows = r.getRows();
  const name = refName(t);
  const found = rows[0];
  if (!found)
    throw new TableSetError(
      'WALDUCK_RESYNC_TABLE',
      `${name} is not in the table set${slot === undefined ? '' : ` of slot ${slot}`} of this replica: walduck status lists the tables it follows`,
    );
  if (rows.length > 1)
    throw new TableSetError(
      'WALDUCK_RESYNC_TABLE',
      `${name} is followed through several slots (${rows.map((x) => String(x[0])).join(', ')}): name one with --slot`,
    );
  const theSlot = String(found[0]);
  const state = String(found[1]);
  if (state !== 'streaming' && state !== 'copying')
    throw new TableSetError(
      'WALDUCK_RESYNC_TABLE',
      `${name} is ${state} in this replica, not followed: name it in --tables of walduck replicate, which copies it online`,
    );
  await duck.run('BEGIN TRANSACTION');
  try {
    await requestCopy(duck, theSlot, t, 'resync');
    await duck.run(
      `UPDATE ${tables} SET state = 'copying', updated_at = now() WHERE slot = ${quoteLiteral(theSlot)} AND source_schema = ${quoteLiteral(t.schema)} AND source_table = ${quoteLiteral(t.table)}`,
    );
    await duck.run('COMMIT');
  } catch (err) {
    await duck.run('ROLLBACK').catch(() => {});
    throw err;
  }
  return theSlot;
}
