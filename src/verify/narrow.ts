// --rows: from "this table differs" to the rows that differ, without reading the whole table out.
//
// The key space is cut by the md5 of each row's key text, one hex digit at a time: 16 ranges, then
// 16 inside each range that differs, and so on. Ranges of the hash, not of the key itself, because
// PostgreSQL and DuckDB order text differently (collations) while both compute the same md5. At each
// level both sides return count and hash sum per range (one scan each, aggregated inside the
// database); a range whose figures differ is split further until it holds at most LEAF_ROWS rows on
// either side; only those rows are read out and compared by key. At most `maxDiffs` ranges are
// followed, so the rows read stay bounded too.

import type { SourceTable } from '../source/catalog.js';
import type { Side } from './canonical.js';
import type { TableSql } from './table-sql.js';

export type Query = (sql: string) => Promise<readonly (readonly (string | null)[])[]>;

export type RowValues = Readonly<Record<string, string | null>>;

export interface RowDiff {
  /** missing: in the source only; extra: in the replica only; different: same key, other values. */
  readonly kind: 'missing' | 'extra' | 'different';
  /** The key columns' values (null for a keyless table: the whole row is its identity). */
  readonly key: RowValues | null;
  readonly source: RowValues | null;
  readonly replica: RowValues | null;
}

const LEAF_ROWS = 256;
const MOD = 1n << 64n;

interface Figures {
  readonly count: bigint;
  readonly sum: bigint;
}

function figures(rows: readonly (readonly (string | null)[])[]): Map<string, Figures> {
  const m = new Map<string, Figures>();
  for (const r of rows) {
    m.set(r[0] ?? '', { count: BigInt(r[1] ?? '0'), sum: mod64(r[2]) });
  }
  return m;
}

export function mod64(v: string | null | undefined): bigint {
  if (v === null || v === undefined) return 0n;
  return ((BigInt(v) % MOD) + MOD) % MOD;
}

export async function narrow(
  t: SourceTable,
  sql: TableSql,
  q: Readonly<Record<Side, Query>>,
  maxDiffs: number,
): Promise<{ diffs: RowDiff[]; truncated: boolean }> {
  const diffs: RowDiff[] = [];
  let under: string[] = [];
  for (let len = 1; len <= 32; len++) {
    const [a, b] = await Promise.all([
      q.pg(sql.buckets('pg', len, under)),
      q.duck(sql.buckets('duck', len, under)),
    ]);
    const pa = figures(a);
    const pb = figures(b);
    const differing = [...new Set([...pa.keys(), ...pb.keys()])]
      .filter((k) => pa.get(k)?.count !== pb.get(k)?.count || pa.get(k)?.sum !== pb.get(k)?.sum)
      .sort();
    const leaf: string[] = [];
    const deeper: string[] = [];
    for (const k of differing) {
      const n = Math.max(Number(pa.get(k)?.count ?? 0n), Number(pb.get(k)?.count ?? 0n));
      (n <= LEAF_ROWS || len === 32 ? leaf : deeper).push(k);
    }
    const room = maxDiffs - diffs.length;
    const leafNow = leaf.slice(0, room);
    if (leafNow.length > 0) {
      const [ra, rb] = await Promise.all([
        q.pg(sql.leafRows('pg', len, leafNow)),
        q.duck(sql.leafRows('duck', len, leafNow)),
      ]);
      diffs.push(...compareRows(t, ra, rb));
    }
    if (diffs.length >= maxDiffs) return { diffs: diffs.slice(0, maxDiffs), truncated: true };
    if (deeper.length === 0) return { diffs, truncated: leaf.length > leafNow.length };
    under = deeper.slice(0, maxDiffs - diffs.length);
  }
  return { diffs, truncated: false };
}

/** Rows as leafRows returns them: row text, key text, then each column's text. */
export function compareRows(
  t: SourceTable,
  pgRows: readonly (readonly (string | null)[])[],
  duckRows: readonly (readonly (string | null)[])[],
): RowDiff[] {
  type Row = readonly (string | null)[];
  const byKey = new Map<string, { pg: Row[]; duck: Row[] }>();
  const add = (side: 'pg' | 'duck', r: Row) => {
    const k = r[1] ?? '';
    let e = byKey.get(k);
    if (!e) {
      e = { pg: [], duck: [] };
      byKey.set(k, e);
    }
    e[side].push(r);
  };
  for (const r of pgRows) add('pg', r);
  for (const r of duckRows) add('duck', r);
  const values = (r: Row): RowValues =>
    Object.fromEntries(t.columns.map((c, i) => [c.name, r[2 + i] ?? null]));
  const keyOf = (r: Row): RowValues | null =>
    t.key.length === 0
      ? null
      : Object.fromEntries(t.key.map((i) => [t.columns[i]?.name ?? '', r[2 + i] ?? null]));
  const out: RowDiff[] = [];
  for (const k of [...byKey.keys()].sort()) {
    const e = byKey.get(k);
    if (!e) continue;
    // Rows equal on both sides cancel one for one (a multiset: a keyless table may hold duplicates).
    const duck = [...e.duck];
    const pgOnly: Row[] = [];
    for (const r of e.pg) {
      const i = duck.findIndex((d) => d[0] === r[0]);
      if (i >= 0) duck.splice(i, 1);
      else pgOnly.push(r);
    }
    const n = Math.max(pgOnly.length, duck.length);
    for (let i = 0; i < n; i++) {
      const s = pgOnly[i];
      const d = duck[i];
      out.push({
        kind: s && d ? 'different' : s ? 'missing' : 'extra',
        key: keyOf((s ?? d) as Row),
        source: s ? values(s) : null,
        replica: d ? values(d) : null,
      });
    }
  }
  return out;
}
