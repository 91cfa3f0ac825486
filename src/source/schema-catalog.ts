// What following schema changes needs to ask the source (the sink asks nothing itself: it is handed
// a SchemaCatalog). Everything here is about one table's OID, since names change: pg_attribute with
// dropped columns (attnums are never reused, which tells a rename from a drop plus an add), the
// value PostgreSQL shows for rows that existed before an ADD COLUMN, a printed type resolved through
// pg_type, the server's time zone, and pages of a column's current values by key.

import { sameTypeName } from '../wal2json/type-name.js';
import type { PgType, QueryFn, Rows } from './catalog.js';
import { quoteIdent, quoteLiteral } from './quote.js';
import { resolveType } from './table-columns.js';

/** One column of the source's catalog now (pg_attribute, dropped ones included). */
export interface CatalogColumn {
  readonly attnum: number;
  readonly name: string;
  readonly dropped: boolean;
  /** format_type with the modifier, as wal2json prints it. */
  readonly type: string;
  readonly typid: number;
  readonly typmod: number;
  readonly dims: number;
  /** PostgreSQL's value for rows that existed before the column was added (text), when it keeps one. */
  readonly missing: string | null;
  readonly hasMissing: boolean;
  readonly hasDefault: boolean;
  readonly identity: boolean;
  readonly generated: boolean;
}

export interface SchemaCatalog {
  /** The table's OID and its columns now; attnums of the live ones by name. */
  table(schema: string, table: string): Promise<{ oid: string; columns: CatalogColumn[] }>;
  /** pg_attribute of the table with this OID now (empty when the table is gone). */
  columns(oid: string): Promise<CatalogColumn[]>;
  /** The PgType of a column wal2json prints as `type` (exact from `now` when it still has that type). */
  typeOf(type: string, now: CatalogColumn | undefined, dims: number): Promise<PgType>;
  /** The table's name now, as SQL (oid::regclass). */
  relation(oid: string): Promise<string>;
  /** Up to `limit` rows of (keys..., column) in key order, after the key `after` when given. */
  page(
    relation: string,
    keys: readonly string[],
    column: string,
    after: readonly string[] | undefined,
    limit: number,
  ): Promise<Rows>;
  /**
   * The WAL position every transaction a read just made could see lies before: the insert position
   * (an asynchronous commit is visible before it is written), on a standby the position replayed.
   */
  walPosition(): Promise<string>;
}

export function sourceSchemaCatalog(query: QueryFn): SchemaCatalog {
  const columns = async (oid: string): Promise<CatalogColumn[]> => {
    const rows = await query(
      `SELECT a.attnum, a.attname, a.attisdropped, format_type(a.atttypid, a.atttypmod), a.atttypid, a.atttypmod,
              a.attndims, a.atthasmissing, CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END,
              a.atthasdef, a.attidentity <> '', a.attgenerated <> ''
         FROM pg_attribute a WHERE a.attrelid = ${quoteLiteral(oid)}::oid AND a.attnum > 0 ORDER BY a.attnum`,
    );
    return rows.map((r) => ({
      attnum: Number(r[0]),
      name: r[1] ?? '',
      dropped: r[2] === 't',
      type: r[3] ?? '',
      typid: Number(r[4]),
      typmod: Number(r[5]),
      dims: Math.max(1, Number(r[6] ?? 0)),
      hasMissing: r[7] === 't',
      missing: r[8] ?? null,
      hasDefault: r[9] === 't',
      identity: r[10] === 't',
      generated: r[11] === 't',
    }));
  };
  return {
    columns,
    async table(schema, table) {
      const rel = `${quoteIdent(schema)}.${quoteIdent(table)}`;
      const oid = (await query(`SELECT ${quoteLiteral(rel)}::regclass::oid`))[0]?.[0] ?? '';
      return { oid, columns: await columns(oid) };
    },
    async typeOf(type, now, dims) {
      if (now && !now.dropped && sameTypeName(type, now.type))
        return resolveType(query, now.typid, now.typmod, now.dims);
      const oid = Number((await query(`SELECT ${quoteLiteral(type)}::regtype::oid`))[0]?.[0]);
      return resolveType(query, oid, printedTypmod(type), dims);
    },
    async relation(oid) {
      return (await query(`SELECT ${quoteLiteral(oid)}::oid::regclass::text`))[0]?.[0] ?? '';
    },
    page(relation, keys, column, after, limit) {
      const keyList = keys.map(quoteIdent).join(', ');
      const where = after ? `WHERE (${keyList}) > (${after.map(quoteLiteral).join(', ')})` : '';
      return query(
        `SELECT ${keyList}, ${quoteIdent(column)} FROM ${relation} ${where} ORDER BY ${keyList} LIMIT ${limit}`,
      );
    },
    async walPosition() {
      const rows = await query(
        'SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END::text',
      );
      return rows[0]?.[0] ?? '';
    },
  };
}

/** The type modifier format_type printed: numeric(p,s), character varying(n), character(n), time(p). */
export function printedTypmod(type: string): number {
  const num = /^numeric\((\d+)(?:,\s*(-?\d+))?\)/.exec(type);
  if (num) return ((Number(num[1]) << 16) | (Number(num[2] ?? 0) & 0x7ff)) + 4;
  const len = /^(?:character varying|character|bit varying|bit)\((\d+)\)/.exec(type);
  if (len) return Number(len[1]) + 4;
  const prec = /^(?:time|timestamp)\((\d+)\)/.exec(type);
  if (prec) return Number(prec[1]);
  return -1;
}
