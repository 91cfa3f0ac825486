// The wal2json 2.5 options walduck asks for, as START_REPLICATION's (name, value) pairs. Which option
// means what in which format is in src/wal2json/README.md; in short, both formats take include-xids,
// include-timestamp, include-lsn, include-types, include-typmod, include-type-oids, include-pk and
// add-tables; include-transaction (B/C lines) is v2's, write-in-chunks is v1's.

import type { TableRef } from './change.js';

export interface Wal2JsonOptionsInput {
  readonly formatVersion: 1 | 2;
  /** Only these tables (add-tables); absent = every table. */
  readonly tables?: readonly TableRef[];
  /** v1 only: wal2json writes after every change instead of once per transaction. */
  readonly writeInChunks?: boolean;
  readonly includeTypeOids?: boolean;
}

export function wal2jsonOptions(o: Wal2JsonOptionsInput): Array<[string, string]> {
  if (o.formatVersion !== 1 && o.formatVersion !== 2) {
    throw new RangeError(`formatVersion must be 1 or 2, got ${String(o.formatVersion)}`);
  }
  if (o.writeInChunks && o.formatVersion !== 1) {
    throw new RangeError('writeInChunks applies to format-version 1 only (v2 writes one line per change)');
  }
  const opts: Array<[string, string]> = [
    ['format-version', String(o.formatVersion)],
    ['include-xids', '1'],
    ['include-timestamp', '1'],
    // v2: "lsn"/"nextlsn" on B and C; v1: "nextlsn" in the header (Begin.endLsn).
    ['include-lsn', '1'],
    ['include-schemas', '1'],
    ['include-types', '1'],
    ['include-typmod', '1'],
    ['include-pk', '1'],
  ];
  if (o.formatVersion === 2) opts.push(['include-transaction', '1']);
  if (o.includeTypeOids) opts.push(['include-type-oids', '1']);
  if (o.formatVersion === 1) opts.push(['write-in-chunks', o.writeInChunks ? '1' : '0']);
  if (o.tables !== undefined) {
    if (o.tables.length === 0)
      throw new RangeError('tables: give at least one table, or leave it out for all');
    opts.push(['add-tables', o.tables.map(addTablesEntry).join(',')]);
  }
  return opts;
}

/**
 * One add-tables entry, `schema.table`. wal2json splits the list at ',' and each entry at '.', treats
 * '*' as "any", and takes a character after a backslash literally; so those, the backslash itself and
 * (as its README asks) space and single quote are escaped. Names are case-sensitive and unquoted.
 */
export function addTablesEntry(t: TableRef): string {
  return `${escapeName(t.schema)}.${escapeName(t.table)}`;
}

function escapeName(name: string): string {
  if (name.length === 0) throw new RangeError('empty schema or table name');
  return name.replace(/[\\.,* ']/g, (c) => `\\${c}`);
}
