// COPY's text format, parsed incrementally into column arrays of PostgreSQL text values.
// https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2
//
// A row is one line ending in "\n"; fields are separated by "\t"; "\N" alone is NULL. Inside a field,
// a backslash escapes: \b \f \n \r \t \v \\, \ooo (1-3 octal digits) and \xhh (1-2 hex digits) give
// one byte each, and any other character stands for itself. A raw tab or newline never occurs in a
// field, so lines and fields are found on raw bytes first and unescaped afterwards.
//
// The server sends one row per CopyData, but nothing in the protocol promises it: a row may be split
// across messages at any byte (even inside a UTF-8 character), so the tail of a message is carried
// over and a line is decoded only once complete. Rows go into `columns` (reused across batches); the
// caller takes them when `count` reaches its batch size, then calls `reset()`.

import { WalduckError } from '../protocol/errors.js';
import type { Value } from '../wal2json/change.js';

export class CopyFormatError extends WalduckError {
  override readonly name = 'CopyFormatError';
  readonly code = 'WALDUCK_COPY_FORMAT';
  readonly phase = 'snapshot';
}

const NL = 0x0a; // '\n'

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
};

export class CopyTextParser {
  /** One array per column; entries [0, count) are this batch's rows. */
  readonly columns: Value[][];
  count = 0;
  /** Rows parsed over the parser's life. */
  rows = 0;
  /** Parts of an incomplete line, joined once its newline arrives (never concatenated per chunk). */
  private carry: Buffer[] = [];

  constructor(readonly width: number) {
    this.columns = Array.from({ length: width }, () => []);
  }

  /** Parses every complete line in `chunk`; keeps the incomplete tail for the next call. */
  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(NL, pos);
      if (nl < 0) {
        this.carry.push(chunk.subarray(pos));
        return;
      }
      if (this.carry.length > 0) {
        this.carry.push(chunk.subarray(pos, nl));
        const line = Buffer.concat(this.carry);
        this.carry = [];
        this.line(line.toString('utf8'));
      } else this.line(chunk.toString('utf8', pos, nl));
      pos = nl + 1;
    }
  }

  /** At the end of the data: an unterminated last row is an error, not a row. */
  end(): void {
    if (this.carry.length > 0) {
      const n = this.carry.reduce((a, b) => a + b.length, 0);
      throw new CopyFormatError(`COPY data ended inside a row (${n} bytes without a newline)`);
    }
  }

  reset(): void {
    this.count = 0;
  }

  private line(text: string): void {
    const row = this.count;
    let start = 0;
    for (let c = 0; c < this.width; c++) {
      let end = text.indexOf('\t', start);
      if (end < 0) {
        if (c !== this.width - 1) throw this.shape(text, c + 1);
        end = text.length;
      } else if (c === this.width - 1) throw this.shape(text, this.width + 1);
      const col = this.columns[c] as Value[];
      col[row] = field(text, start, end);
      start = end + 1;
    }
    this.count++;
    this.rows++;
  }

  private shape(text: string, got: number): CopyFormatError {
    return new CopyFormatError(
      `COPY row has ${got > this.width ? 'more than' : 'only'} ${Math.min(got, this.width)} of ${this.width} fields: ${JSON.stringify(text.slice(0, 80))}`,
    );
  }
}

function field(text: string, start: number, end: number): Value {
  const bs = text.indexOf('\\', start);
  if (bs < 0 || bs >= end) return text.slice(start, end);
  if (end - start === 2 && text.charCodeAt(start + 1) === 0x4e /* N */) return null;
  return unescapeField(text.slice(start, end));
}

/** Unescapes one field; octal and hex escapes are bytes, so a field holding one goes byte-wise. */
export function unescapeField(f: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const j = f.indexOf('\\', i);
    if (j < 0) return out + f.slice(i);
    out += f.slice(i, j);
    const c = f[j + 1];
    if (c === undefined)
      throw new CopyFormatError(`COPY field ends in a lone backslash: ${JSON.stringify(f)}`);
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) out += simple;
    else if ((c >= '0' && c <= '7') || c === 'x') return unescapeBytes(f);
    else out += c;
    i = j + 2;
  }
}

const hexValue = (b: number | undefined): number => {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
};
const isOctal = (b: number | undefined): b is number => b !== undefined && b >= 0x30 && b <= 0x37;

function unescapeBytes(f: string): string {
  // Every escape is ASCII, so the field's UTF-8 bytes are exactly the bytes the server sent.
  const src = Buffer.from(f, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  let i = 0;
  while (i < src.length) {
    const b = src[i] as number;
    if (b !== 0x5c /* \ */) {
      out[n++] = b;
      i++;
      continue;
    }
    const e = src[i + 1];
    if (e === undefined)
      throw new CopyFormatError(`COPY field ends in a lone backslash: ${JSON.stringify(f)}`);
    i += 2;
    if (isOctal(e)) {
      let v = e - 0x30;
      for (let k = 0; k < 2 && isOctal(src[i]); k++) v = v * 8 + ((src[i++] as number) - 0x30);
      out[n++] = v & 0xff;
    } else if (e === 0x78 /* x */ && hexValue(src[i]) >= 0) {
      let v = hexValue(src[i++]);
      if (hexValue(src[i]) >= 0) v = v * 16 + hexValue(src[i++]);
      out[n++] = v;
    } else {
      const simple = SIMPLE_ESCAPES[String.fromCharCode(e)];
      out[n++] = simple !== undefined ? simple.charCodeAt(0) : e;
    }
  }
  return out.toString('utf8', 0, n);
}
