// Typed errors for malformed wal2json output. Every error names the XLogData it came in (`lsn`) and
// the byte offset inside that payload. The bytes around it (`snippet`) are row data, which may be
// personal: they stay out of the message and are shown only when the caller asks (walduck
// --debug-values), so a default log line says where, never what.

import { WalduckError } from '../protocol/errors.js';
import { formatLsn, type Lsn } from '../protocol/lsn.js';
import { shownIdent } from './shown-name.js';

export type Wal2JsonErrorCode =
  /** Not JSON: an unexpected byte. */
  | 'WALDUCK_WAL2JSON_SYNTAX'
  /** The input ended inside a value (a format-version 2 line, or a capture that cannot complete). */
  | 'WALDUCK_WAL2JSON_TRUNCATED'
  /** Valid JSON, but not what wal2json emits: a missing field, a field of the wrong type, arrays of unequal length. */
  | 'WALDUCK_WAL2JSON_SHAPE'
  /** An `action` (v2) or `kind` (v1) this decoder does not know: better to stop than to skip data. */
  | 'WALDUCK_WAL2JSON_UNKNOWN_ACTION'
  /** Nesting deeper than `maxDepth`. */
  | 'WALDUCK_WAL2JSON_TOO_DEEP'
  /** A string longer than `maxStringBytes`, or one change larger than `maxChangeBytes`. */
  | 'WALDUCK_WAL2JSON_TOO_LONG'
  /** The decoder was used out of order: a previous generator was not consumed, or it already failed. */
  | 'WALDUCK_WAL2JSON_MISUSE';

export type Wal2JsonPhase = 'decode-v1' | 'decode-v2';

export class Wal2JsonError extends WalduckError {
  override readonly name = 'Wal2JsonError';
  readonly code: Wal2JsonErrorCode;
  readonly phase: Wal2JsonPhase;
  /** dataStart of the XLogData being decoded when the error was found. */
  readonly lsn: Lsn;
  /**
   * Byte offset in that payload. For a change reassembled from several messages (v1 write-in-chunks)
   * the offset is counted back from the end of the change in this payload, so it is negative when the
   * bad byte arrived in an earlier message.
   */
  readonly offset: number;
  /** Up to 32 bytes either side of the offset, as text (`⟦` marks the offset). */
  readonly snippet: string;
  /** What went wrong, without the position (the message adds it). */
  readonly detail: string;
  /** The row image's column the bad value belongs to (1-based, with its name when known). */
  readonly column: string | undefined;

  constructor(
    code: Wal2JsonErrorCode,
    detail: string,
    at: { phase: Wal2JsonPhase; lsn: Lsn; offset: number; snippet: string; column?: string | undefined },
    options?: { cause?: unknown },
  ) {
    const where = at.column === undefined ? '' : ` in column ${at.column}`;
    super(`${detail}${where} (${at.phase}, lsn ${formatLsn(at.lsn)}, offset ${at.offset})`, options);
    this.code = code;
    this.phase = at.phase;
    this.lsn = at.lsn;
    this.offset = at.offset;
    this.snippet = at.snippet;
    this.detail = detail;
    this.column = at.column;
  }
}

/** The same error, saying which column's value it was in (values are not shown; their column is). */
export function inColumn(err: unknown, index: number, name: string | undefined): unknown {
  if (!(err instanceof Wal2JsonError) || err.column !== undefined) return err;
  const column = name === undefined ? `${index + 1}` : `${index + 1} (${shownIdent(name)})`;
  return new Wal2JsonError(err.code, err.detail, { ...err, column }, { cause: err.cause });
}

const SNIPPET_RADIUS = 32;

/** The bytes around `pos` as JSON-ish text: printable ASCII kept, everything else as \xNN. */
export function snippetAt(bytes: Uint8Array, pos: number): string {
  const from = Math.max(0, pos - SNIPPET_RADIUS);
  const to = Math.min(bytes.length, pos + SNIPPET_RADIUS);
  let s = '';
  for (let i = from; i < to; i++) {
    if (i === pos) s += '⟦';
    const b = bytes[i]!;
    s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  if (pos >= to) s += '⟦';
  return s;
}
