// Splitting a table for parallel copy: ranges of heap pages, selected by ctid (PostgreSQL 14+ scans a
// ctid range without reading the rest of the table). Every job's transaction runs under the same
// exported snapshot, so the ranges together hold exactly the snapshot's rows, each once: a row
// version lives at one ctid. The last range is open-ended, so pages added after the size was read
// (holding only rows the snapshot cannot see) change nothing.

/** A table below this many pages (8 MiB at the default 8 kB block) is copied in one piece. */
export const MIN_SPLIT_PAGES = 1024;
/** Ranges per job: more than one, so a job that finishes early can take another range. */
const RANGES_PER_JOB = 4;

export interface PageRange {
  readonly from: number;
  /** Exclusive; undefined for the open-ended last range. */
  readonly to: number | undefined;
}

export function pageRanges(pages: number, jobs: number): PageRange[] {
  if (jobs <= 1 || pages < MIN_SPLIT_PAGES) return [{ from: 0, to: undefined }];
  const n = Math.min(jobs * RANGES_PER_JOB, Math.ceil(pages / (MIN_SPLIT_PAGES / 4)));
  const size = Math.ceil(pages / n);
  const out: PageRange[] = [];
  for (let from = 0; from < pages; from += size) {
    const to = from + size;
    out.push({ from, to: to >= pages ? undefined : to });
  }
  return out;
}

/** The WHERE clause for a range; empty for the whole table. */
export function rangeCondition(r: PageRange): string {
  if (r.from === 0 && r.to === undefined) return '';
  const parts: string[] = [];
  if (r.from > 0) parts.push(`ctid >= '(${r.from},0)'::tid`);
  if (r.to !== undefined) parts.push(`ctid < '(${r.to},0)'::tid`);
  return ` WHERE ${parts.join(' AND ')}`;
}
