// The stretch of the stream a fill from the source (fill-from-source.ts) cannot see straight.
//
// A fill reads, by key, the values the source holds when it reads, not those at the change that
// asked for it: the transactions committed in between are visible to the read and still come
// through the stream. Each change of them that carries the column overwrites it, so that is exact.
// One that does not (an unchanged TOASTed value, which wal2json leaves out) keeps what the fill put
// in DuckDB, which is right for a row that kept its key, but an UPDATE of the key moves the value
// read for its old key, which by the read may have been another row's. Nothing in the stream tells
// the row's own value: the sink copies the table again (sink-reshape.ts).
//
// The window lasts while the stream may still bring a transaction the read saw: until the WAL
// position taken after the read (the insert position: a commit visible to the read was inserted
// before it), i.e. while the last commit applied is below it. Kept in walduck.fills in the DuckDB
// transaction of the fill, so a stop or kill -9 before the stream passes it keeps the window.

import type { DuckDBConnection } from '@duckdb/node-api';
import { formatLsn, type Lsn, parseLsn } from '../protocol/lsn.js';
import type { Update } from '../wal2json/change.js';
import { attachedCatalog } from './checkpoint.js';
import type { RecordedTable } from './source-schema.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { STATE_SCHEMA } from './target.js';

interface Window {
  /** The filled columns (attnums: a rename later in the window keeps them). */
  readonly attnums: readonly number[];
  /** The source's WAL position after the read. */
  readonly until: Lsn;
}

export class FillWindows {
  /** By the source table's OID (a RENAME TABLE later in the window keeps it). */
  private readonly open = new Map<string, Window>();
  /** The windows as they were at the last DuckDB commit, while one is changed in the open transaction. */
  private committed: Map<string, Window> | undefined;

  constructor(private readonly slot: string) {}

  get size(): number {
    return this.open.size;
  }

  /** The windows walduck.fills records for this slot, those the stored LSN has passed left out. */
  async load(conn: DuckDBConnection, stored: Lsn): Promise<void> {
    // Made by the first fill only: a file that never had one keeps the tables it had.
    const there = await conn.runAndReadAll(
      `SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = ${quoteLiteral(STATE_SCHEMA)} AND table_name = 'fills'`,
    );
    if (Number(there.getRows()[0]?.[0] ?? 0) === 0) return;
    const r = await conn.runAndReadAll(
      `SELECT oid, attnums, until FROM ${await fillsRef(conn)} WHERE slot = ${quoteLiteral(this.slot)}`,
    );
    for (const [oid, attnums, until] of r.getRows()) {
      const lsn = parseLsn(String(until));
      if (lsn === undefined || lsn <= stored) continue;
      const cols = (JSON.parse(String(attnums)) as unknown[]).map(Number);
      this.open.set(String(oid), { attnums: cols, until: lsn });
    }
  }

  /** A fill of `attnums` of table `oid` read up to `until`: recorded in the open DuckDB transaction. */
  async add(conn: DuckDBConnection, oid: string, attnums: readonly number[], until: Lsn): Promise<void> {
    this.keep();
    const was = this.open.get(oid);
    const w: Window = {
      attnums: [...new Set([...(was?.attnums ?? []), ...attnums])],
      until: was && was.until > until ? was.until : until,
    };
    this.open.set(oid, w);
    await this.write(conn, oid, w);
  }

  /** Forgets table `oid`'s window (its rows are copied again), in the open DuckDB transaction. */
  async drop(conn: DuckDBConnection, oid: string): Promise<void> {
    if (!this.open.has(oid)) return;
    this.keep();
    this.open.delete(oid);
    await conn.run(`DELETE FROM ${await fillsRef(conn)} WHERE ${this.where(oid)}`);
  }

  /**
   * The filled column an UPDATE moves to another key without carrying its value, while table `rec`'s
   * window is open (`lastCommit`: the end LSN of the last source transaction applied), else undefined.
   */
  movedWithout(rec: RecordedTable, change: Update, lastCommit: Lsn): string | undefined {
    const w = this.open.get(rec.oid);
    if (!w || lastCommit >= w.until || change.old === undefined) return undefined;
    const { old, new: now } = change;
    const moved = rec.keyNames.some((k) => {
      const i = old.names.indexOf(k);
      const j = now.names.indexOf(k);
      return i >= 0 && j >= 0 && old.values[i] !== now.values[j];
    });
    if (!moved) return undefined;
    for (const a of w.attnums) {
      const col = rec.columns.find((c) => c.attnum === a && !c.dropped);
      if (col && !now.names.includes(col.name)) return col.name;
    }
    return undefined;
  }

  /**
   * Before the DuckDB commit that records `lastCommit`: the windows it passes are over (deleted in
   * that transaction).
   */
  async passed(conn: DuckDBConnection, lastCommit: Lsn): Promise<void> {
    for (const [oid, w] of this.open) if (lastCommit >= w.until) await this.drop(conn, oid);
  }

  /** The open DuckDB transaction committed. */
  commit(): void {
    this.committed = undefined;
  }

  /** The open DuckDB transaction rolled back: the windows go back to the last commit's. */
  rollback(): void {
    if (!this.committed) return;
    this.open.clear();
    for (const [k, w] of this.committed) this.open.set(k, w);
    this.committed = undefined;
  }

  private keep(): void {
    this.committed ??= new Map(this.open);
  }

  private async write(conn: DuckDBConnection, oid: string, w: Window): Promise<void> {
    await ensureFills(conn);
    const ref = await fillsRef(conn);
    await conn.run(`DELETE FROM ${ref} WHERE ${this.where(oid)}`);
    await conn.run(
      `INSERT INTO ${ref} VALUES (${quoteLiteral(this.slot)}, ${quoteLiteral(oid)}, ${quoteLiteral(JSON.stringify(w.attnums))}, ${quoteLiteral(formatLsn(w.until))})`,
    );
  }

  private where(oid: string): string {
    return `slot = ${quoteLiteral(this.slot)} AND oid = ${quoteLiteral(oid)}`;
  }
}

async function fillsRef(conn: DuckDBConnection): Promise<string> {
  return `${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}.${quoteIdent('fills')}`;
}

async function ensureFills(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(await attachedCatalog(conn))}.${quoteIdent(STATE_SCHEMA)}`,
  );
  await conn.run(
    `CREATE TABLE IF NOT EXISTS ${await fillsRef(conn)} (slot VARCHAR NOT NULL, oid VARCHAR NOT NULL, attnums VARCHAR NOT NULL, until VARCHAR NOT NULL)`,
  );
}
