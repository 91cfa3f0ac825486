// How the sink makes a table of its set (sink-table.ts Table) from a source table: its DuckDB target
// described (target.ts), its applier and stage made, and what the applier reports of rows DuckDB did
// not have (counted, warned once per table). Apart from duckdb-sink.ts because tables are built only
// at open, when one joins, and when one changes shape (sink-reshape.ts, sink-renames.ts,
// sink-copies.ts): never per change.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { SourceTable } from '../source/catalog.js';
import { shownIdent, shownName } from '../wal2json/shown-name.js';
import { type Mismatch, TableApplier } from './apply.js';
import { refuseMoneyColumns } from './money-locale.js';
import { SchemaWatch } from './schema-follow.js';
import type { SinkOptions, SinkStats } from './sink-options.js';
import { type Table, tableKey } from './sink-table.js';
import { TableStage } from './stage.js';
import { describeTarget, ensureTarget, heldRows, refuseCollisions, type TargetTable } from './target.js';

export class SinkBuild {
  /** Numbers each table's DuckDB stage table (walduck_stage_N), unique in the connection. */
  private stageCount = 0;
  private readonly warnedMismatch = new Set<TargetTable>();

  constructor(
    private readonly conn: DuckDBConnection,
    private readonly opts: SinkOptions,
    /** The attached DuckDB database's name: every target is qualified with it. */
    private readonly catalog: string,
    /** The sink's counters: `unmatched` counts here. */
    private readonly stats: SinkStats,
  ) {}

  /**
   * The tables the sink is opened with, into `tables`: each one's recorded schema when following
   * schema changes, refused together when two would land on one DuckDB name, then created or checked.
   */
  async openAll(
    sources: readonly SourceTable[],
    tables: Map<string, Table>,
    /** The file holds no replication state for the slot: an initial snapshot is to come. */
    fresh = false,
  ): Promise<void> {
    const opts = this.opts;
    const watches: (SchemaWatch | undefined)[] = [];
    for (const source of sources)
      watches.push(
        opts.schema ? await SchemaWatch.open(this.conn, source, opts.schema, opts.warn) : undefined,
      );
    const targets = sources.map((source, i) => this.describe(watches[i]?.source ?? source));
    refuseCollisions(targets);
    for (const [i, was] of targets.entries()) {
      let described = was;
      let watch = watches[i];
      // Recorded by a start whose snapshot never committed, the table changed at the source since
      // (ALTER, or dropped and created again): still empty, it is made again as the source has it
      // now. Else the snapshot copied the new columns into the old table (a CSV error, every start).
      const now = sources[i];
      if (fresh && watch && now && reshapedSince(watch, now)) {
        const held = await heldRows(this.conn, was.catalog, was.schema, was.table);
        if (held === undefined) {
          watch = await watch.recopied(this.conn, now);
          described = this.describe(watch.source);
          await this.conn.run(`DROP TABLE IF EXISTS ${was.name}`);
        }
      }
      const source = described.source;
      const target = await ensureTarget(this.conn, described);
      tables.set(tableKey(source.schema, source.table), await this.build(target, watch));
    }
  }

  describe(source: SourceTable): TargetTable {
    refuseMoneyColumns(source, this.opts.money);
    return describeTarget(source, this.catalog, this.opts.numeric ? { numeric: this.opts.numeric } : {});
  }

  async build(target: TargetTable, watch: SchemaWatch | undefined): Promise<Table> {
    const applier = new TableApplier(this.conn, target, `walduck_stage_${this.stageCount++}`, (m) =>
      this.mismatch(m),
    );
    await applier.createStage();
    const key = tableKey(target.source.schema, target.source.table);
    return { stage: new TableStage(target), applier, key, ...(watch ? { watch } : {}) };
  }

  /**
   * A replica equal to the source has the row every UPDATE and DELETE names. When it lacks it (started
   * with --no-snapshot, or the file was edited), applying on would be a silent skip and stopping would
   * never heal it: say so once per table, count every occurrence.
   */
  private mismatch(m: Mismatch): void {
    this.stats.unmatched += Math.abs(m.expected - m.changed);
    const name = shownName(m.target.source);
    this.opts.log(
      `${name}: ${m.what} changed ${m.changed} row(s) in DuckDB where the source changed ${m.expected}`,
    );
    if (this.warnedMismatch.has(m.target)) return;
    this.warnedMismatch.add(m.target);
    this.opts.warn(
      `${name} no longer equals the source: a ${m.what} changed ${m.changed} row(s) in DuckDB where the source changed ${m.expected} (rows that existed before the slot are missing after --no-snapshot, or the DuckDB table was changed by hand${nanMayHide(m.target.source)}); to make it equal again, remove the DuckDB file and run again with --snapshot`,
    );
  }
}

/**
 * A table matched by every column (no key, REPLICA IDENTITY FULL) misses a row whose float or numeric
 * column holds NaN or ±Infinity: wal2json sends null for them in the old row, DuckDB holds the value.
 */
function nanMayHide(source: SourceTable): string {
  if (source.key.length > 0) return '';
  const cols = source.columns.filter((c) => ['float4', 'float8', 'numeric'].includes(c.type.typname));
  if (cols.length === 0) return '';
  return `, or the row held NaN or ±Infinity in ${cols.map((c) => shownIdent(c.name)).join(', ')}, which wal2json sends as null, so the old row it names is not the one DuckDB holds`;
}

/** The recorded columns (name and declared type) or key differ from the source's now. */
function reshapedSince(w: SchemaWatch, source: SourceTable): boolean {
  const shape = (cols: readonly string[], key: readonly string[]) => JSON.stringify([cols, key]);
  return (
    shape(
      w.rec.columns.filter((c) => !c.dropped).map((c) => `${c.name} ${c.type}`),
      w.rec.keyNames,
    ) !==
    shape(
      source.columns.map((c) => `${c.name} ${c.declared}`),
      source.key.map((k) => source.columns[k]?.name ?? ''),
    )
  );
}
