// The filler of a short text column: DuckDB's inline string_t, written straight into the vector.
// Apart from the other fillers: it knows DuckDB's string layout, not a PostgreSQL text form (its text
// goes in as it is); stage-column.ts prints the same layout back.

import { VARCHAR } from './duckdb-api.js';
import type { Filler } from './filler.js';

/**
 * VARCHAR of at most 12 ASCII characters: DuckDB keeps such a string inline in the vector (a 16-byte
 * string_t: the length as uint32, then the bytes, zero-padded), so it is written there directly with
 * no call into DuckDB per value. Longer or non-ASCII text goes the usual way (one string per value).
 */
export const inlineTextFiller: Filler = {
  duckType: 'VARCHAR',
  type: VARCHAR,
  bytes: 16,
  write(view, i, text) {
    const n = text.length;
    if (n > 12) return false;
    // The 12 bytes as three little-endian words: four writes instead of a write per byte.
    let w0 = 0;
    let w1 = 0;
    let w2 = 0;
    for (let k = 0; k < n; k++) {
      const c = text.charCodeAt(k);
      if (c >= 0x80 || c === 0) return false;
      const shifted = c << ((k & 3) * 8);
      if (k < 4) w0 |= shifted;
      else if (k < 8) w1 |= shifted;
      else w2 |= shifted;
    }
    const at = i * 16;
    view.setUint32(at, n, true);
    view.setUint32(at + 4, w0, true);
    view.setUint32(at + 8, w1, true);
    view.setUint32(at + 12, w2, true);
    return true;
  },
};
