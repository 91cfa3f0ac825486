// Tables created while walduck runs (all-tables mode) that it skipped: no primary key or replica
// identity, so their updates and deletes are not logged. Their changes are dropped from then on, and
// the slot passes the rows they hold (the table set records them as skipped: a start copies them
// online). Until then each catalog check (about once a second, and before each DuckDB commit) looks at
// them again: one that can now be replicated and copied in key chunks (ALTER TABLE ... ADD PRIMARY
// KEY) joins at its next change (with none, it stays skipped and the next start copies it),
// and is copied online over what the stream brings (partitions.ts: lookup, Recopies.gainedKey). One that
// can be replicated but not copied by key (REPLICA IDENTITY FULL alone) stays skipped, said once.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { CatalogError, type QueryFn, readSourceTables, replicableNow, type SourceTable } from './catalog.js';

export class SkippedNew {
  /** Skipped in this run, looked at again by each check (refKey), with the names its changes come under. */
  private readonly waiting = new Map<string, { t: TableRef; names: Set<string> }>();
  /**
   * The oids of every table skipped in this run: one joining later, under its name or (renamed since)
   * another, is copied online; a table created again under the name is another oid, all its rows in WAL.
   */
  private readonly oids = new Set<string>();

  constructor(
    private readonly query: QueryFn,
    private readonly copyProblem: ((t: SourceTable) => string | undefined) | undefined,
    private readonly warn: (msg: string) => void,
    private readonly log: (msg: string) => void,
  ) {}

  add(t: TableRef, oid: string): void {
    this.oids.add(oid);
    const k = refKey(t);
    if (!this.waiting.has(k)) this.waiting.set(k, { t, names: new Set([k]) });
  }

  /** A change of skipped table `t` came under `name` (a leaf partition's, for a partitioned table). */
  under(t: TableRef, name: string): void {
    this.waiting.get(refKey(t))?.names.add(name);
  }

  /**
   * Whether table `t` joins after being skipped in this run, under this name or another (renamed
   * while skipped): rows went past, so it is copied online.
   */
  joins(t: SourceTable): boolean {
    return t.oid !== undefined && this.oids.has(t.oid);
  }

  /** The names of the skipped tables that can be replicated now: to be looked up again. */
  async check(): Promise<string[]> {
    const out: string[] = [];
    if (this.waiting.size === 0) return out;
    // One small query for all of them, every check; the columns and types are read only for one that
    // can be replicated now.
    const now = await replicableNow(
      this.query,
      [...this.waiting.values()].map((w) => w.t),
    );
    for (const [k, { t, names }] of this.waiting) {
      const usable = now.get(k);
      if (usable === undefined) {
        this.waiting.delete(k); // gone: a table created under its name later is a new one
        continue;
      }
      if (!usable) continue;
      let table: SourceTable | undefined;
      try {
        [table] = await readSourceTables(this.query, [t]);
      } catch (err) {
        // Still no key; or gone (a table created under its name later is a new one).
        if (!(err instanceof CatalogError)) throw err;
        if (err.code === 'WALDUCK_UNKNOWN_TABLE') this.waiting.delete(k);
        continue;
      }
      if (!table) continue;
      this.waiting.delete(k);
      const problem = this.copyProblem ? this.copyProblem(table) : 'walduck cannot copy it online here';
      if (problem !== undefined) {
        this.warn(
          `new table ${shownName(t)} can be replicated now, but rows went past while it was skipped and it cannot be copied online: ${problem}; it stays skipped in this run, and the next start refuses it in one line until it can be copied`,
        );
        continue;
      }
      out.push(...names);
      this.log(
        `new table ${shownName(t)}, skipped earlier in this run, can be replicated now: its next change joins it`,
      );
    }
    return out;
  }
}
