// The builder behind the decoder's shared arrays (row-image.ts): an array of names, types or OIDs
// that stays the cached instance of the table's last row while every element read equals it. Apart
// from row-image.ts so that type-name.ts, which row-image.ts uses, can fill one without an import cycle.

const EMPTY: readonly never[] = Object.freeze([]);

/** Builds an array that is the cached one while every element read matches it. */
export class Reuse<T> {
  private cached: readonly T[] | undefined;
  private fresh: T[] | undefined;
  n = 0;

  start(cached: readonly T[] | undefined): void {
    this.cached = cached;
    this.fresh = undefined;
    this.n = 0;
  }

  /** The cached element at the current position, while everything so far matched. */
  expected(): T | undefined {
    return this.fresh === undefined && this.cached !== undefined ? this.cached[this.n] : undefined;
  }

  hit(): void {
    this.n++;
  }

  /** The element at `i` of the array being built, if read yet (fresh holds all of them once made). */
  at(i: number): T | undefined {
    if (i >= this.n) return undefined;
    return this.fresh !== undefined ? this.fresh[i] : this.cached?.[i];
  }

  add(v: T): void {
    if (this.fresh === undefined) this.fresh = this.cached === undefined ? [] : this.cached.slice(0, this.n);
    this.fresh.push(v);
    this.n++;
  }

  finish(): readonly T[] {
    const out =
      this.fresh ??
      (this.cached === undefined
        ? EMPTY
        : this.n === this.cached.length
          ? this.cached
          : this.cached.slice(0, this.n));
    this.cached = undefined;
    this.fresh = undefined;
    return out;
  }
}
