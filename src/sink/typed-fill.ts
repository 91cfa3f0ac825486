// Typed DuckDB vectors filled straight from PostgreSQL's exact text, for the common column types:
// each value is parsed in JS into the vector's own binary form (int16/32/64, double, the days of a
// DATE, the microseconds of a TIMESTAMP, the scaled integer of a DECIMAL) and the column goes to
// DuckDB in one copy, instead of one VARCHAR string per value and DuckDB's cast inside the Appender.
//
// Exactness: a parser accepts only the plain forms PostgreSQL prints (ISO dates, AD years of four
// digits, at most 6 fraction digits, a DECIMAL's declared scale...) and computes the value DuckDB's
// own cast of that text gives. Anything else (BC, infinity, a value out of range, a form it does not
// know) makes the whole column of that chunk go as VARCHAR, cast by DuckDB exactly as before. So a
// fast value is never a guess: it is either the cast's result or not used. The property test
// (test/property/sink/typed-fill.test.ts) checks the parsers against DuckDB's cast.
//
// This file picks a column's filler (fillerFor) and holds the scratch one column of one chunk is
// filled in; the fillers themselves are by family in filler-number.ts, filler-temporal.ts and
// filler-text.ts, their contract and shared integer helpers in filler.ts.

import type { DuckDBDataChunk } from '@duckdb/node-api';
import { bindings, INTEGER, SMALLINT } from './duckdb-api.js';
import type { Filler } from './filler.js';
import { bigintFiller, booleanFiller, decimalFiller, doubleFiller, intFiller } from './filler-number.js';
import { dateFiller, timestampFiller } from './filler-temporal.js';
import { inlineTextFiller } from './filler-text.js';
import type { ColumnMapping } from './type-map.js';

const FIXED: Readonly<Record<string, Filler>> = {
  VARCHAR: inlineTextFiller,
  SMALLINT: intFiller('SMALLINT', SMALLINT, 2, -32768, 32767),
  INTEGER: intFiller('INTEGER', INTEGER, 4, -2147483648, 2147483647),
  BIGINT: bigintFiller,
  BOOLEAN: booleanFiller,
  DOUBLE: doubleFiller,
  DATE: dateFiller,
  TIMESTAMP: timestampFiller('TIMESTAMP'),
  TIMESTAMPTZ: timestampFiller('TIMESTAMPTZ'),
};

const DECIMAL_TYPE = /^DECIMAL\((\d+),(\d+)\)$/;

/**
 * The filler of a column whose conversion is a plain cast to its DuckDB type (ColumnMapping.direct),
 * or undefined (the column goes as VARCHAR, as before).
 */
export function fillerFor(m: ColumnMapping | undefined): Filler | undefined {
  if (!m?.direct) return undefined;
  // VARCHAR only where the text goes in as it is (not JSON, which DuckDB checks on the way in).
  if (m.duckType === 'VARCHAR' && m.convert('x') !== 'x') return undefined;
  const fixed = FIXED[m.duckType];
  if (fixed) return fixed;
  const d = DECIMAL_TYPE.exec(m.duckType);
  if (!d) return undefined;
  const precision = Number(d[1]);
  const scale = Number(d[2]);
  if (precision > 18 || scale > precision) return undefined;
  return decimalFiller(precision, scale);
}

/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_CAPACITY = 2048;

/** The filler of the staging table's own text columns (_op, _mask): plain text, often inline. */
export const TEXT_FILLER: Filler = inlineTextFiller;

/** Reusable memory for one column of one chunk: the values and DuckDB's validity bits. */
export class ColumnScratch {
  readonly data = new ArrayBuffer(CHUNK_CAPACITY * 16);
  readonly view = new DataView(this.data);
  readonly validity = new Uint8Array(CHUNK_CAPACITY / 8);
  /** Set by fill: some value of the chunk is NULL (the validity bits then matter). */
  hasNull = false;

  /**
   * Parses `values` into this scratch with `f`; false as soon as one is not in the plain form (the
   * caller sends the column as VARCHAR then).
   */
  fill(f: Filler, values: readonly (string | null)[]): boolean {
    const view = this.view;
    const n = values.length;
    let hasNull = false;
    for (let i = 0; i < n; i++) {
      const v = values[i] ?? null;
      if (v === null) {
        if (!hasNull) {
          hasNull = true;
          this.validity.fill(0xff);
        }
        const byte = this.validity[i >> 3] ?? 0;
        this.validity[i >> 3] = byte & ~(1 << (i & 7));
        // DuckDB ignores a NULL row's bytes; zero keeps the vector free of stale values anyway.
        for (let b = 0; b < f.bytes; b++) view.setUint8(i * f.bytes + b, 0);
      } else if (!f.write(view, i, v)) return false;
    }
    this.hasNull = hasNull;
    return true;
  }

  /** Copies the filled values into column `c` of `chunk`: one copy of the values, one of validity. */
  copyTo(chunk: DuckDBDataChunk, c: number, width: number, count: number): void {
    const vector = bindings.data_chunk_get_vector(chunk.chunk, c);
    bindings.copy_data_to_vector(vector, 0, this.data, 0, count * width);
    if (this.hasNull) {
      bindings.vector_ensure_validity_writable(vector);
      bindings.copy_data_to_vector_validity(vector, 0, this.validity.buffer, 0, Math.ceil(count / 64) * 8);
    }
  }
}
