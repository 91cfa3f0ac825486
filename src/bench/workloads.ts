// The benchmark's workloads. Each runs on a table of its own in schema walduck_bench, which the bench
// creates and drops (it never touches anything it did not create). `rows` scales them all.

export interface Workload {
  readonly name: string;
  readonly table: string;
  readonly ddl: string;
  /** Changes in the measured WAL range. */
  readonly changes: number;
  /** Before the slots exist (not measured). */
  readonly prepare?: string;
  /** SQL statements, each its own transaction. */
  readonly statements: () => Iterable<string>;
}

export const SCHEMA = 'walduck_bench';

const narrow = (t: string) =>
  `CREATE TABLE ${SCHEMA}.${t} (id bigint PRIMARY KEY, a int, t text, n numeric(12,2), ts timestamptz)`;
const narrowRows = (t: string, from: number, to: number) =>
  `INSERT INTO ${SCHEMA}.${t} SELECT g, g, 'text value ' || g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(${from}, ${to}) g`;

const WIDE_COLS = 49;
const wideDdl = `CREATE TABLE ${SCHEMA}.wide (id bigint PRIMARY KEY, ${Array.from({ length: WIDE_COLS }, (_, i) => `c${i} ${['int', 'text', 'numeric(12,2)', 'timestamptz', 'boolean'][i % 5]}`).join(', ')})`;
const WIDE_EXPRS: readonly ((i: number) => string)[] = [
  (i) => `g + ${i}`,
  () => "'w' || g",
  () => 'g * 0.25',
  () => "'2024-01-01'::timestamptz + g * interval '1 minute'",
  () => 'g % 2 = 0',
];
const wideExpr = (i: number) => WIDE_EXPRS[i % WIDE_EXPRS.length]?.(i) ?? 'NULL';

export function workloads(rows: number): Workload[] {
  const per100 = Math.max(1, Math.floor(rows / 100));
  const ud = Math.max(1, Math.floor(rows / 5));
  const wide = Math.max(1, Math.floor(rows / 10));
  const toast = Math.max(1, Math.floor(rows / 100));
  return [
    {
      name: `${rows} inserts, 1 transaction`,
      table: 'ins1',
      ddl: narrow('ins1'),
      changes: rows,
      statements: () => [narrowRows('ins1', 1, rows)],
    },
    {
      name: `${per100 * 100} inserts, ${per100} transactions of 100`,
      table: 'ins100',
      ddl: narrow('ins100'),
      changes: per100 * 100,
      statements: function* () {
        for (let i = 0; i < per100; i++) yield narrowRows('ins100', i * 100 + 1, i * 100 + 100);
      },
    },
    {
      name: `${ud} updates + ${ud} deletes`,
      table: 'upd',
      ddl: narrow('upd'),
      changes: 2 * ud,
      prepare: narrowRows('upd', 1, ud),
      statements: () => [`UPDATE ${SCHEMA}.upd SET a = a + 1, t = t || 'u'`, `DELETE FROM ${SCHEMA}.upd`],
    },
    {
      name: `${wide} inserts, 50 columns`,
      table: 'wide',
      ddl: wideDdl,
      changes: wide,
      statements: () => [
        `INSERT INTO ${SCHEMA}.wide SELECT g, ${Array.from({ length: WIDE_COLS }, (_, i) => wideExpr(i)).join(', ')} FROM generate_series(1, ${wide}) g`,
      ],
    },
    {
      name: `${toast} inserts of 20 kB text (TOAST)`,
      table: 'toast',
      ddl: `CREATE TABLE ${SCHEMA}.toast (id bigint PRIMARY KEY, doc text)`,
      changes: toast,
      // md5 hex does not compress, so each value really is stored out of line.
      statements: () => [
        `INSERT INTO ${SCHEMA}.toast SELECT g, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 640) i) FROM generate_series(1, ${toast}) g`,
      ],
    },
  ];
}
