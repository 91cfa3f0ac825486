// Replication delay per source transaction: from its commit on the source (wal2json's commit
// timestamp) to the DuckDB commit that made it durable. A fixed histogram of 1 ms buckets keeps memory
// constant however long walduck runs. Meaningful when source and walduck share a clock.

const BUCKETS = 120_000; // 1 ms each: up to two minutes, the last bucket holds everything slower

export interface LatencySummary {
  readonly transactions: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** "2024-01-02 03:04:05.123456+00" (DateStyle ISO, as the protocol layer asks for) -> ms since epoch. */
export function pgTimestampMs(text: string): number | undefined {
  const iso = text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

export class Latency {
  private readonly counts = new Uint32Array(BUCKETS);
  private pending: number[] = [];
  private total = 0;
  private max = 0;

  /** A source transaction's commit was applied (not yet committed to DuckDB). */
  seen(commitTime: string | undefined): void {
    const ms = commitTime === undefined ? undefined : pgTimestampMs(commitTime);
    if (ms !== undefined) this.pending.push(ms);
  }

  /** The DuckDB transaction holding everything seen so far committed at `now`. */
  committed(now: number): void {
    for (const t of this.pending) {
      const d = Math.max(0, now - t);
      const bucket = Math.min(BUCKETS - 1, Math.floor(d));
      this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
      this.total++;
      if (d > this.max) this.max = d;
    }
    this.pending = [];
  }

  /** Seen transactions rolled back (a half batch on shutdown): they will be replayed. */
  dropped(): void {
    this.pending = [];
  }

  summary(): LatencySummary | undefined {
    if (this.total === 0) return undefined;
    return {
      transactions: this.total,
      p50Ms: this.quantile(0.5),
      p99Ms: this.quantile(0.99),
      maxMs: Math.round(this.max),
    };
  }

  private quantile(q: number): number {
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return i;
    }
    return BUCKETS - 1;
  }
}
