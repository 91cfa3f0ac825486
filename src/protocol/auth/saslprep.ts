// SASLprep (RFC 4013, a profile of stringprep RFC 3454) for SCRAM passwords, as PostgreSQL applies it:
// map some characters to space or to nothing, normalize NFKC, then refuse prohibited characters and
// bad bidirectional mixes. Where PostgreSQL finds a password "not valid SASLprep" it uses the raw bytes
// instead, so do we (returning the input unchanged), or we would fail to log in where libpq succeeds.

type Ranges = readonly (readonly [number, number])[];

// RFC 3454 C.1.2: non-ASCII space characters, mapped to U+0020.
const NON_ASCII_SPACE: Ranges = [
  [0x00a0, 0x00a0],
  [0x1680, 0x1680],
  [0x2000, 0x200b],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

// RFC 3454 B.1: characters commonly mapped to nothing.
const MAPPED_TO_NOTHING: Ranges = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200c, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

// RFC 3454 C.2.1-C.9: control characters, private use, non-characters, surrogates, characters
// inappropriate for plain text or canonical representation, display-changing and tagging characters.
const PROHIBITED: Ranges = [
  [0x0000, 0x001f],
  [0x007f, 0x009f],
  [0x0340, 0x0341],
  [0x06dd, 0x06dd],
  [0x070f, 0x070f],
  [0x180e, 0x180e],
  [0x200c, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x2063],
  [0x206a, 0x206f],
  [0x2ff0, 0x2ffb],
  [0xd800, 0xdfff],
  [0xe000, 0xf8ff],
  [0xfdd0, 0xfdef],
  [0xfeff, 0xfeff],
  [0xfff9, 0xfffd],
  [0x1d173, 0x1d17a],
  [0xe0001, 0xe0001],
  [0xe0020, 0xe007f],
  [0xf0000, 0xffffd],
  [0x100000, 0x10fffd],
];

// RFC 3454 D.1 (bidirectional R and AL), approximated by the Hebrew, Arabic, Syriac and Thaana blocks
// and their presentation forms.
const RAND_AL: Ranges = [
  [0x05be, 0x05be],
  [0x05c0, 0x05c0],
  [0x05c3, 0x05c3],
  [0x05d0, 0x05f4],
  [0x061b, 0x061b],
  [0x061f, 0x064a],
  [0x066d, 0x06d5],
  [0x06e5, 0x06e6],
  [0x06fa, 0x070d],
  [0x0710, 0x072c],
  [0x0780, 0x07b1],
  [0x200f, 0x200f],
  [0xfb1d, 0xfdfc],
  [0xfe70, 0xfefc],
];

const UNASSIGNED = /^\p{Cn}$/u;
const LETTER = /^[\p{L}\p{Mc}]$/u;

function inRanges(cp: number, ranges: Ranges): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
  return false;
}

function isNonCharacter(cp: number): boolean {
  return (cp & 0xfffe) === 0xfffe;
}

/** The SASLprep'd password, or the password unchanged if it is not a valid SASLprep string. */
export function saslprep(password: string): string {
  if (/^[\x20-\x7E]*$/.test(password)) return password; // printable ASCII is already normalized
  let mapped = '';
  for (const ch of password) {
    const cp = ch.codePointAt(0) as number;
    if (inRanges(cp, MAPPED_TO_NOTHING)) continue;
    mapped += inRanges(cp, NON_ASCII_SPACE) ? ' ' : ch;
  }
  mapped = mapped.normalize('NFKC');
  if (mapped === '') return password;
  const chars = [...mapped];
  let hasRandAl = false;
  let hasL = false;
  for (const ch of chars) {
    const cp = ch.codePointAt(0) as number;
    if (inRanges(cp, PROHIBITED) || isNonCharacter(cp) || UNASSIGNED.test(ch)) return password;
    if (inRanges(cp, RAND_AL)) hasRandAl = true;
    else if (LETTER.test(ch)) hasL = true;
  }
  // RFC 3454 section 6: with any RandALCat character there must be no LCat one, and the string must
  // begin and end with RandALCat.
  if (hasRandAl) {
    const first = (chars[0] as string).codePointAt(0) as number;
    const last = (chars[chars.length - 1] as string).codePointAt(0) as number;
    if (hasL || !inRanges(first, RAND_AL) || !inRanges(last, RAND_AL)) return password;
  }
  return mapped;
}
