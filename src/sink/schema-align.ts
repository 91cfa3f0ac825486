// Which attnum each column of a changed row image is (schema-change.ts): the stream names columns,
// the catalog numbers them, and between the two a small alignment decides, or says it cannot. Kept
// apart from planning (schema-plan.ts) because it is a pure search, tested on its own.

import type { CatalogColumn } from '../source/schema-catalog.js';
import { sameTypeName } from '../wal2json/type-name.js';
import type { RecordedColumn } from './source-schema.js';

export interface Candidate {
  readonly attnum: number;
  /** The recorded column, or undefined for an attnum new since the record. */
  readonly rec: RecordedColumn | undefined;
  readonly now: CatalogColumn | undefined;
  /** Must be matched (a recorded column alive now was alive at the change too). */
  readonly required: boolean;
}

/**
 * Aligns the image's columns to attnums: each image column takes one candidate, in increasing
 * order; required candidates cannot be skipped. Returns the best alignment, or undefined when two
 * alignments score the same (the stream and the catalog cannot tell them apart).
 */
export function align(
  image: { readonly names: readonly string[]; readonly types: readonly string[] },
  cands: readonly Candidate[],
): Candidate[] | undefined | 'none' {
  const n = image.names.length;
  const m = cands.length;
  // A name agreeing (with the record or the catalog now) counts most, then a type; a new attnum
  // dropped by now contradicts nothing, so it is preferred to a later one that does. A type agreeing
  // under another name (a rename before or since) is no better evidence than a drop since: one DDL
  // either way, so the two tie and the change is refused. (A type scoring 2 there made ADD a, DROP a,
  // ADD b, all before walduck read a row with a, give a b's attnum and the rows already there b's
  // default, and then rename a to b, rows and all: silently.)
  const score = (i: number, c: Candidate): number => {
    const nm = image.names[i];
    const ty = image.types[i];
    const alive = c.now !== undefined && !c.now.dropped;
    const named = nm === c.rec?.name || (alive && nm === c.now?.name);
    let s = 0;
    if (named) s += 4;
    const rec = c.rec?.type;
    const now = alive ? c.now?.type : undefined;
    if (
      ty !== undefined &&
      ty !== '' &&
      ((rec !== undefined && sameTypeName(ty, rec)) || (now !== undefined && sameTypeName(ty, now)))
    )
      s += named ? 2 : 1;
    if (c.rec === undefined && c.now?.dropped) s += 1;
    return s;
  };

  // best[i][j]: best score aligning image[0..i) within cands[0..j) (-1: impossible); ways: how many
  // alignments reach it (capped at 2: one or several is all that matters).
  const W = m + 1;
  const best = new Int32Array((n + 1) * W).fill(-1);
  const ways = new Uint8Array((n + 1) * W);
  best[0] = 0;
  ways[0] = 1;
  // A new attnum alive now that the image skips was added after the change; so were all later ones:
  // past it, nothing more of the image can match.
  const skippable = (c: Candidate, i: number) =>
    !c.required && (c.rec !== undefined || c.now === undefined || c.now.dropped || i === n);
  for (let j = 1; j <= m && skippable(cands[j - 1] as Candidate, 0); j++) {
    best[j] = 0;
    ways[j] = 1;
  }
  const at = (i: number, j: number) => best[i * W + j] ?? -1;
  const take = (i: number, j: number) => {
    const prev = at(i - 1, j - 1);
    return prev < 0 ? -1 : prev + score(i - 1, cands[j - 1] as Candidate);
  };
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      let b = -1;
      let w = 0;
      if (skippable(cands[j - 1] as Candidate, i) && at(i, j - 1) >= 0) {
        b = at(i, j - 1);
        w = ways[i * W + j - 1] ?? 0;
      }
      const s = take(i, j);
      const sw = ways[(i - 1) * W + j - 1] ?? 0;
      if (s > b) {
        b = s;
        w = sw;
      } else if (s >= 0 && s === b) w = Math.min(2, w + sw);
      best[i * W + j] = b;
      ways[i * W + j] = w;
    }
  }
  if (at(n, m) < 0) return 'none';
  if ((ways[n * W + m] ?? 0) > 1) return undefined;
  const out: Candidate[] = new Array(n);
  let i = n;
  let j = m;
  while (i > 0) {
    if (take(i, j) === at(i, j) && take(i, j) >= 0) {
      out[i - 1] = cands[j - 1] as Candidate;
      i--;
    }
    j--;
  }
  return out;
}
