// src/wal2json: wal2json output (format-version 1 documents or 2 lines) -> typed change events.
// Pure: no I/O and no package imports. Read README.md here for the field mapping and the limits.

export type {
  Begin,
  Change,
  Commit,
  Delete,
  Insert,
  Message,
  PrimaryKey,
  RowImage,
  TableRef,
  Truncate,
  Update,
  Value,
} from './change.js';
export { assertNever } from './change.js';
export {
  createDecoder,
  DEFAULT_MAX_CHANGE_BYTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_STRING_BYTES,
  type DecoderOptions,
  type Wal2JsonDecoder,
} from './decoder.js';
export { Wal2JsonError, type Wal2JsonErrorCode, type Wal2JsonPhase } from './errors.js';
export { addTablesEntry, type Wal2JsonOptionsInput, wal2jsonOptions } from './options.js';
