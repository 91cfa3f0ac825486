// The table set compared on every start with what walduck.tables recorded (src/sink/table-set.ts):
//
//   - a table no longer chosen (left out of --tables, dropped at the source) is left as it is in
//     DuckDB and no longer followed, said in one line; --drop-removed drops its DuckDB table;
//   - a table chosen now that the replica did not follow (added to --tables, or followed before and
//     stopped) has no rows in DuckDB: refused in one line (walduck does not copy one table into an
//     existing replica yet), never streamed into an empty table;
//   - in all-tables mode a table the record has never seen was created since: every row it holds went
//     through WAL after the recorded position, so it simply joins;
//   - a partition recorded for a root that is no longer one of its leaves (DETACH or DROP while walduck
//     was stopped) took rows out of the root without WAL: refused in one line.
//
// While streaming, tables created at the source (all-tables mode) and partitions joining a root are
// added here and written with the next DuckDB commit.

import type { DuckDBConnection } from '@duckdb/node-api';
import { formatLsn } from '../protocol/lsn.js';
import type { QueryFn, SourceTable } from '../sink/catalog.js';
import { ensureStateTable, readState } from '../sink/checkpoint.js';
import { qualified } from '../sink/sql.js';
import { ensureTableSet, readTableSet, type TableRecord, writeTableSet } from '../sink/table-set.js';
import { targetSchema } from '../sink/target.js';
import { type Leaf, refKey, refName } from '../source/partitions.js';
import type { TableRef } from '../wal2json/change.js';
import { ReplicateError } from './errors.js';

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
      warn: (msg: string) => void;
      log: (msg: string) => void;
    },
  ): Promise<TableSet> {
    await ensureStateTable(duck);
    await ensureTableSet(duck);
    const storedLsn = (await readState(duck, o.slot))?.lsn ?? 0n;
    const stored = await readTableSet(duck, o.slot);
    const records = new Map<string, TableRecord>();
    const set = new TableSet(o.slot, o.mode, records, o.maxOid);
    const leavesOf = (t: TableRef) =>
      o.leaves
        .filter((l) => refKey(l.root) === refKey(t))
        .map(refName)
        .sort();
    const current = new Map(o.chosen.map((t) => [refKey(t), t]));
    if (stored) {
      const before = new Map(
        stored.map((r) => [refKey({ schema: r.sourceSchema, table: r.sourceTable }), r]),
      );
      // The stored mode: from the state row's JSON when present; a set with no record of it is 'tables'.
      const previous = await readRecorded(duck, o.slot);
      const previousMode = previous?.mode;
      for (const [k, r] of before) {
        const name = `${r.sourceSchema}.${r.sourceTable}`;
        if (current.has(k)) continue;
        if (r.state === 'skipped' || (r.state === 'stopped' && !o.dropRemoved)) {
          records.set(k, r);
          continue;
        }
        if (o.dropRemoved && r.targetSchema !== null && r.targetTable !== null) {
          await duck.run(`DROP TABLE IF EXISTS ${qualified(r.targetSchema, r.targetTable)}`);
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
        if (r?.state === 'streaming') {
          const now = new Set(leavesOf(t));
          const gone = r.leaves.find((l) => !now.has(l));
          if (gone) {
            throw new ReplicateError(
              'preflight',
              'WALDUCK_PARTITION_DETACHED',
              `partition ${gone} is no longer part of ${refName(t)} at the source (detached or dropped while walduck was stopped); its rows left ${refName(t)} without a change in WAL, so DuckDB's copy still holds them: re-copy ${refName(t)} (start a new DuckDB file)`,
            );
          }
          const added = [...now].filter((l) => !r.leaves.includes(l));
          // A leaf whose oid the last record already covered existed then as a table of its own: it
          // was ATTACHed since, and rows it held then are not in WAL as the root's.
          for (const name of added) {
            const leaf = o.leaves.find((l) => refName(l) === name);
            if (!leaf || previous?.maxOid === undefined || BigInt(leaf.oid) > previous.maxOid) continue;
            const rows = await o.query(
              `SELECT EXISTS (SELECT 1 FROM ONLY ${qualified(leaf.schema, leaf.table)})`,
            );
            if (rows[0]?.[0] === 't')
              throw new ReplicateError(
                'preflight',
                'WALDUCK_PARTITION_ATTACHED',
                `table ${name} was attached as a partition of ${refName(t)} while holding rows (while walduck was stopped), and an ATTACH does not write those rows to WAL, so DuckDB's ${refName(t)} would miss them: re-copy ${refName(t)} (start a new DuckDB file), or attach tables empty and fill them afterwards`,
              );
          }
          if (added.length > 0)
            o.warn(
              `partition ${added.join(', ')} of ${refName(t)} appeared while walduck was stopped: followed from the recorded position; rows a table held when it was ATTACHed are not in WAL and would be missing`,
            );
          continue;
        }
        if (!r && o.mode === 'all' && previousMode === 'all') {
          o.log(
            `new table ${refName(t)} since the last run: all its rows are in WAL after the recorded position`,
          );
          continue;
        }
        throw new ReplicateError(
          'preflight',
          'WALDUCK_TABLE_ADDED',
          `table ${refName(t)} joins the table set of an existing replica${r ? ` (recorded as ${r.state})` : ''}, but its rows are not in DuckDB and walduck cannot yet copy one table into a running replica: leave it out, or replicate into a new DuckDB file`,
        );
      }
    }
    for (const t of o.chosen) set.follow(t, leavesOf(t));
    set.dirty = true;
    return set;
  }

  /** A table followed from now on (at start, or created at the source while streaming). */
  follow(t: SourceTable, leaves: readonly string[] = []): void {
    this.records.set(refKey(t), {
      sourceSchema: t.schema,
      sourceTable: t.table,
      targetSchema: targetSchema(t.schema),
      targetTable: t.table,
      state: 'streaming',
      leaves,
      lsn: null,
      note: null,
    });
    this.dirty = true;
  }

  /** A partition routed to its root while streaming. */
  addLeaf(leaf: Leaf): void {
    const r = this.records.get(refKey(leaf.root));
    if (!r || r.leaves.includes(refName(leaf))) return;
    this.records.set(refKey(leaf.root), { ...r, leaves: [...r.leaves, refName(leaf)].sort() });
    this.dirty = true;
  }

  /** Inside the DuckDB transaction that commits the rows: the set as it now is. */
  async write(conn: DuckDBConnection): Promise<void> {
    if (!this.dirty) return;
    await writeTableSet(conn, this.slot, [...this.records.values()], this.mode, this.maxOid);
    this.dirty = false;
  }
}

/** What the state row's `tables` JSON recorded: the mode, and pg_class's highest oid at that start. */
async function readRecorded(
  duck: DuckDBConnection,
  slot: string,
): Promise<{ mode: Mode | undefined; maxOid: bigint | undefined } | undefined> {
  const r = await duck.runAndReadAll(`SELECT tables FROM walduck.state WHERE slot = $1`, [slot]);
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
