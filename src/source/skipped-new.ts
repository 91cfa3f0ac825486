// Tables created while walduck runs (all-tables mode) that it skipped: no primary key or replica
// identity, so their updates and deletes are not logged. Their changes are dropped from then on, and
// the slot passes the rows they hold (the table set records them as skipped: a start copies them
// online). Until then the catalog check (about once a second) looks at them again: one that can now
// be replicated and copied in key chunks (ALTER TABLE ... ADD PRIMARY KEY) joins at the next DuckDB
// commit or quiet tick (takeDue; the sink looks it up as a change of it would, sink-batch.ts), or at
// its next change if one comes first, and is copied online over what the stream brings
// (partitions.ts: lookup, Recopies.gainedKey). One that can be replicated but not copied
// by key (REPLICA IDENTITY FULL alone) stays skipped, said once.
// Tables the start skipped for want of a row identity are added here too (atStart; preflight.ts) and
// join the same way: the slot passes their rows as well, so each is copied online once it gets a key,
// in that run, not only by the next start.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { CatalogError, type QueryFn, type SourceTable } from './catalog.js';
import { readSourceTables, replicableNow } from './source-tables.js';

/**
 * Where a skipped table came from: skipped by the start, or a partition detached while walduck ran
 * (its rows came without WAL; followed-tables.ts); absent: created while walduck runs.
 */
export type SkipOrigin = 'start' | 'detached' | undefined;

export class SkippedNew {
  /**
   * Skipped in this run, looked at again by each check (refKey), with its oid and the names its
   * changes come under.
   */
  private readonly waiting = new Map<string, { t: TableRef; oid: string; names: Set<string> }>();
  /**
   * The oids of every table skipped in this run, and of each table a check found under a skipped
   * name (its changes were dropped with the name's, even one dropped and created again under it): one
   * joining later, under its name or (renamed since) another, is copied online.
   */
  private readonly oids = new Set<string>();
  /** Those of `oids` the start skipped, or a DETACH made (said so in the lines about them). */
  private readonly origins = new Map<string, NonNullable<SkipOrigin>>();
  /**
   * The names (refKey) a check found replicable again since they were skipped: one the start decided
   * (the router's `existing`) is looked up again at its next change, as a name new since then is.
   */
  private readonly released = new Set<string>();
  /**
   * The tables a check released that the sink has not looked up yet: joined without waiting for a
   * change of theirs (which may never come, and the table stayed out of DuckDB until the next start).
   */
  private readonly due: TableRef[] = [];
  private lastCheck = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly query: QueryFn,
    private readonly copyProblem: ((t: SourceTable) => string | undefined) | undefined,
    private readonly warn: (msg: string) => void,
    private readonly log: (msg: string) => void,
    /** The shortest time between two looks at the catalog, however many tables wait. */
    private readonly everyMs = 1000,
    /** Why a table cannot land in the sink's store though it has a key (RouterOptions.refusal). */
    private readonly refusal?: (t: SourceTable) => string | undefined,
  ) {}

  /** Table `t` (oid `oid`) is skipped: created while walduck runs, by the start, or detached. */
  add(t: TableRef, oid: string, origin?: SkipOrigin): void {
    this.oids.add(oid);
    if (origin) this.origins.set(oid, origin);
    const k = refKey(t);
    this.released.delete(k);
    const w = this.waiting.get(k);
    if (w) w.oid = oid;
    else this.waiting.set(k, { t, oid, names: new Set([k]) });
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

  /** Whether the table of oid `oid` was skipped in this run (under whichever name). */
  has(oid: string): boolean {
    return this.oids.has(oid);
  }

  /** Whether a check found the table under `t`'s name replicable again since it was last skipped. */
  rejoins(t: TableRef): boolean {
    return this.released.has(refKey(t));
  }

  /** Whether the table of oid `oid` was skipped by the start (not created while walduck runs). */
  atStart(oid: string | undefined): boolean {
    return this.origin(oid) === 'start';
  }

  /** Where the table of oid `oid` came from (SkipOrigin). */
  origin(oid: string | undefined): SkipOrigin {
    return oid === undefined ? undefined : this.origins.get(oid);
  }

  /** How a line names `t` (oid `oid`), skipped earlier: a table the start skipped is no new one. */
  shown(t: TableRef, oid: string | undefined): string {
    return `${this.named(t, oid)},`;
  }

  /** shown() without its closing comma, for the end of a clause. */
  named(t: TableRef, oid: string | undefined): string {
    switch (this.origin(oid)) {
      case 'start':
        return `table ${shownName(t)}, skipped at start`;
      case 'detached':
        return `table ${shownName(t)}, detached from a partitioned table earlier in this run`;
      default:
        return `new table ${shownName(t)}, skipped earlier in this run`;
    }
  }

  /** Whether a skipped table waits for a check, or a released one for the sink to join it. */
  get pending(): boolean {
    return this.waiting.size > 0 || this.due.length > 0;
  }

  /** The tables released since the last call: the sink looks each up, as a change of it would. */
  takeDue(): TableRef[] {
    return this.due.splice(0);
  }

  /** `tables`, taken by the sink in a DuckDB transaction that rolled back: to be joined again. */
  giveBack(tables: readonly TableRef[]): void {
    this.due.unshift(...tables);
  }

  /** The names of the skipped tables that can be replicated now: to be looked up again. */
  async check(): Promise<string[]> {
    const out: string[] = [];
    if (this.waiting.size === 0) return out;
    // Asked before each DuckDB commit too, which a busy stream makes many times a second: a table that
    // joins a second later loses nothing (it is copied online), so the catalog is read once a second.
    if (performance.now() - this.lastCheck < this.everyMs) return out;
    this.lastCheck = performance.now();
    // One small query for all of them; the columns and types are read only for one that can be
    // replicated now.
    const now = await replicableNow(
      this.query,
      [...this.waiting.values()].map((w) => w.t),
    );
    for (const [k, { t, oid, names }] of this.waiting) {
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
      // It has a key, but still cannot land (columns one apart in case, money at another scale): said
      // when it was skipped; it waits until the source is changed.
      if (this.refusal?.(table) !== undefined) continue;
      this.waiting.delete(k);
      const problem = this.copyProblem ? this.copyProblem(table) : 'walduck cannot copy it online here';
      if (problem !== undefined) {
        this.warn(
          `${this.shown(t, oid)} can be replicated now, but rows went past while it was skipped and it cannot be copied online: ${problem}; it stays skipped in this run, and the next start refuses it in one line until it can be copied`,
        );
        continue;
      }
      if (table.oid !== undefined) this.oids.add(table.oid);
      this.released.add(k);
      this.due.push(t);
      out.push(...names);
      this.log(`${this.shown(t, oid)} can be replicated now: it joins at the next commit`);
    }
    return out;
  }
}
