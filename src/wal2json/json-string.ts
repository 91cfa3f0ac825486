// The JsonReader's string scanner (json-reader.ts): a string's body up to its closing quote, with a
// fast path (one slice of the view) when it holds no escape, a native search for the end of a long
// one, and the unescaping of the rest; and a string passed over without being decoded. Each leaves
// the reader's position after the closing quote. The scanners are classes in one chain (state <-
// strings <- numbers <- JsonReader) so that they stay the reader's own methods, called as the one
// class called them: the chain only says which file holds which method.

import { ReaderState } from './json-reader-state.js';

// Declared here, not imported: see the byte constants in json-reader.ts.
const BACKSLASH = 0x5c; // '\'
const LOWER_U = 0x75; // 'u'
const NINE = 0x39; // '9'
const QUOTE = 0x22; // '"'
const ZERO = 0x30; // '0'

/** From this length on a string's end is searched natively (see stringBody, skip-unread.ts). */
export const LONG_STRING = 256;

export class StringScanner extends ReaderState {
  /** The rest of a string after its opening quote; leaves pos after the closing quote. */
  stringBody(): string {
    const b = this.bytes;
    const e = this.end;
    const start = this.pos;
    let p = start;
    let ascii = true;
    for (;;) {
      if (p >= e) this.moreAt(p);
      const x = b[p]!;
      if (x === QUOTE) break;
      if (x === BACKSLASH) return this.stringEscaped(start, p);
      if (x < 0x20) throw this.controlCharacter(p);
      if (x >= 0x80) ascii = false;
      p++;
      // A long value (a TOASTed text): the rest is searched natively (memchr), not byte by byte.
      if (p - start === LONG_STRING) {
        const s = this.longString(start, e);
        if (s !== undefined) return s;
      }
    }
    this.checkLength(start, p);
    this.pos = p + 1;
    return ascii ? this.buf.latin1Slice(start, p) : this.buf.utf8Slice(start, p);
  }

  /**
   * The string from `start` (its first LONG_STRING bytes already seen plain) if its closing quote lies
   * in the view with no backslash before it and no control character in it; else undefined (the byte
   * loop goes on, escapes, errors and a view ending early included).
   */
  private longString(start: number, e: number): string | undefined {
    const q = this.buf.indexOf(QUOTE, start + LONG_STRING);
    if (q < 0 || q >= e) return undefined;
    if (this.buf.subarray(start, q).indexOf(BACKSLASH) >= 0) return undefined;
    if (hasControlByte(this.bytes, start, q)) return undefined;
    const s = this.buf.utf8Slice(start, q);
    this.checkLength(start, q);
    this.pos = q + 1;
    return s;
  }

  /** The slow path: a string with escapes, decoded piece by piece from `p` (at a backslash). */
  private stringEscaped(start: number, p: number): string {
    const b = this.bytes;
    const e = this.end;
    let out = '';
    let seg = start;
    for (;;) {
      if (p >= e) this.moreAt(p);
      const x = b[p]!;
      if (x === QUOTE) break;
      if (x < 0x20) throw this.controlCharacter(p);
      if (x !== BACKSLASH) {
        p++;
        continue;
      }
      if (p > seg) out += this.buf.utf8Slice(seg, p);
      if (p + 1 >= e) this.moreAt(p + 1);
      const esc = b[p + 1]!;
      switch (esc) {
        case 0x22: // '"'
        case 0x5c: // '\'
        case 0x2f: // '/'
          out += String.fromCharCode(esc);
          break;
        case 0x62: // 'b'
          out += '\b';
          break;
        case 0x66: // 'f'
          out += '\f';
          break;
        case 0x6e: // 'n'
          out += '\n';
          break;
        case 0x72: // 'r'
          out += '\r';
          break;
        case 0x74: // 't'
          out += '\t';
          break;
        case LOWER_U: {
          if (p + 6 > e) this.moreAt(e);
          let code = 0;
          for (let i = p + 2; i < p + 6; i++) {
            const h = hexValue(b[i]!);
            if (h < 0) {
              this.pos = i;
              throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'bad \\u escape');
            }
            code = code * 16 + h;
          }
          // Surrogate halves are appended one by one: a JS string is UTF-16, so a pair joins itself.
          out += String.fromCharCode(code);
          p += 4;
          break;
        }
        default:
          this.pos = p;
          throw this.fail('WALDUCK_WAL2JSON_SYNTAX', 'bad escape in a string');
      }
      p += 2;
      seg = p;
    }
    this.checkLength(start, p);
    if (p > seg) out += this.buf.utf8Slice(seg, p);
    this.pos = p + 1;
    return out;
  }

  /** Skips a string (at its opening quote) without decoding it (escapes only need their backslash skipped). */
  protected skipString(): void {
    const b = this.bytes;
    const e = this.end;
    const start = this.pos + 1;
    let p = start;
    for (;;) {
      if (p >= e) this.moreAt(p);
      const x = b[p]!;
      if (x === QUOTE) break;
      if (x === BACKSLASH) {
        // Validate the escape the slow way: rare in fields nobody reads.
        this.pos = start;
        this.stringBody();
        return;
      }
      if (x < 0x20) throw this.controlCharacter(p);
      p++;
    }
    this.checkLength(start, p);
    this.pos = p + 1;
  }
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * Whether bytes[from, to) hold a byte below 0x20 (a raw control character: in UTF-8 such a byte is
 * always one). Four bytes at a time where the memory is aligned, with the "has a byte less than n"
 * bit trick (n <= 128): a byte below 0x20 borrows into its top bit while its own top bit is clear.
 * A borrow only ever starts at such a byte, so it cannot flag a text without one. A regular expression
 * on the decoded string was 7% of walduck's main thread on 20 kB texts.
 */
export function hasControlByte(bytes: Uint8Array, from: number, to: number): boolean {
  let p = from;
  const base = bytes.byteOffset;
  while (p < to && (base + p) % 4 !== 0) {
    if ((bytes[p] as number) < 0x20) return true;
    p++;
  }
  const words = (to - p) >> 2;
  if (words > 0) {
    const w = new Uint32Array(bytes.buffer, base + p, words);
    for (let i = 0; i < words; i++) {
      const x = w[i] as number;
      if (((x - 0x20202020) & ~x & 0x80808080) !== 0) return true;
    }
    p += words * 4;
  }
  for (; p < to; p++) if ((bytes[p] as number) < 0x20) return true;
  return false;
}
