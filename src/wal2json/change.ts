// The change events walduck decodes from a wal2json slot: one discriminated union for both output
// formats (format-version 1 documents and format-version 2 lines). The field-by-field mapping from each
// format, what wal2json 2.5 prints for NaN / Infinity / -0 / money / unchanged TOAST, and the decoder's
// limits are documented in src/wal2json/README.md.
//
// Every event carries `lsn`: the dataStart of the XLogData message it was delivered in, except that
// `commit.lsn` is always the transaction's end LSN, which is exactly what to report as flushed once
// the transaction is applied. In format-version 2 and in v1 write-in-chunks the commit's XLogData
// dataStart is that end LSN (measured); a whole v1 document, though, arrives stamped with the
// transaction's start, so for v1 the decoder takes the end LSN from the header's "nextlsn"
// (include-lsn, which wal2jsonOptions always asks for). See src/wal2json/README.md.

import { InternalError } from '../protocol/errors.js';
import type { Lsn } from '../protocol/lsn.js';

/**
 * A column value exactly as wal2json printed it: null for SQL NULL, otherwise the text. Bare JSON
 * numbers (int8, numeric, float, money) keep their source text ("9223372036854775807", "1e-320");
 * JSON strings are unescaped to PostgreSQL's text output ("2024-01-01 00:00:00+00", "\\x00ff",
 * "{1,NULL}"); JSON true/false become "true"/"false". Never a JS number: that would round.
 */
export type Value = string | null;

/**
 * One row image: parallel arrays, one entry per column present. A TOASTed column left unchanged by an
 * UPDATE is absent from `names` (wal2json omits it), which is not the same as NULL. Decoders may hand
 * out the same `names` / `types` array instance for consecutive rows of a table when they are equal,
 * so a consumer can cache per-table work by identity; treat all arrays as read-only.
 */
export interface RowImage {
  readonly names: readonly string[];
  /** PostgreSQL type names as wal2json prints them (format_type: "character varying(20)", "integer[]"). */
  readonly types: readonly string[];
  /** Type OIDs, present when the slot was asked for include-type-oids. */
  readonly typeOids?: readonly number[];
  readonly values: readonly Value[];
}

export interface TableRef {
  readonly schema: string;
  readonly table: string;
}

/** A table as a map key: NUL never occurs in a PostgreSQL name, so two tables never share a key. */
export const refKey = (t: TableRef): string => `${t.schema}\u0000${t.table}`;
/** A table as messages name it: schema.table, as the catalog spells them (not quoted). */
export const refName = (t: TableRef): string => `${t.schema}.${t.table}`;

export interface Begin {
  readonly kind: 'begin';
  readonly lsn: Lsn;
  readonly xid?: number;
  /** Commit timestamp as PostgreSQL prints it (include-timestamp). */
  readonly commitTime?: string;
  /**
   * The transaction's end LSN as announced up front (include-lsn: v2 B's "nextlsn", v1's header
   * "nextlsn"); the `commit` event's `lsn` equals it. Absent without include-lsn.
   */
  readonly endLsn?: Lsn;
}

/** Primary-key column names (include-pk), shared by consecutive rows of a table like `names`. */
export type PrimaryKey = readonly string[];

export interface Insert extends TableRef {
  readonly kind: 'insert';
  readonly lsn: Lsn;
  readonly new: RowImage;
  readonly pk?: PrimaryKey;
}

export interface Update extends TableRef {
  readonly kind: 'update';
  readonly lsn: Lsn;
  readonly new: RowImage;
  /** The replica identity's columns before the update (v2 `identity`, v1 `oldkeys`); absent when the key did not change and the identity is DEFAULT. */
  readonly old?: RowImage;
  readonly pk?: PrimaryKey;
}

export interface Delete extends TableRef {
  readonly kind: 'delete';
  readonly lsn: Lsn;
  readonly old: RowImage;
  readonly pk?: PrimaryKey;
}

export interface Truncate {
  readonly kind: 'truncate';
  readonly lsn: Lsn;
  readonly tables: readonly TableRef[];
}

export interface Message {
  readonly kind: 'message';
  readonly lsn: Lsn;
  readonly transactional: boolean;
  readonly prefix: string;
  readonly content: string;
}

export interface Commit {
  readonly kind: 'commit';
  /**
   * The transaction's end LSN: acknowledge this once the transaction is durably applied. v2: the C
   * line's XLogData dataStart (= its "nextlsn"); v1: the header's "nextlsn", else the dataStart of the
   * message that closed the document.
   */
  readonly lsn: Lsn;
  readonly xid?: number;
  readonly commitTime?: string;
}

export type Change = Begin | Insert | Update | Delete | Truncate | Message | Commit;

/** The end of every switch over a union: reached only if a new member went unhandled. */
export function assertNever(x: never, phase = 'decode'): never {
  // Not JSON.stringify: changes hold bigints, which it cannot print.
  const kind = typeof x === 'object' && x !== null ? ((x as { kind?: unknown }).kind ?? '?') : x;
  throw new InternalError(phase, `unexpected variant ${String(kind)}`);
}
