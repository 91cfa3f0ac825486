// The slot guard: while walduck streams, a short side connection now and then looks at the slot from
// the server's side (the replication connection cannot run queries while it streams). It reports the
// WAL the slot retains (metrics) and warns before the server gives up on the slot: when wal_status
// leaves 'reserved', and as safe_wal_size shrinks (thresholds and wording in slot-warning.ts). The
// first look is at once (a restart into a slot already in danger says so at the start), then one
// every `everyMs`.

import type { ConnectionSettings } from '../protocol/index.js';
import { quoteLiteral } from '../source/quote.js';
import type { SlotHealth } from './metrics.js';
import { type SideQuery, sideQuery } from './side-query.js';
import { SlotWarnings } from './slot-warning.js';

/** How long one look (connect excluded: its own timeout) may take. */
const LOOK_TIMEOUT_MS = 10_000;

export interface SlotGuardOptions {
  readonly settings: ConnectionSettings;
  readonly slot: string;
  readonly everyMs: number;
  readonly warn: (msg: string) => void;
  /** The all-clear after a warning (not a warning itself). */
  readonly notice: (msg: string) => void;
  readonly log: (msg: string) => void;
  readonly report?: (h: SlotHealth) => void;
}

export class SlotGuard {
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private closed = false;
  private readonly warnings: SlotWarnings;
  /** A short connection per look: opened by its query, closed after it. */
  private readonly side: SideQuery;

  constructor(private readonly o: SlotGuardOptions) {
    this.warnings = new SlotWarnings(o.slot);
    this.side = sideQuery(o.settings, { timeoutMs: LOOK_TIMEOUT_MS, connectTimeoutMs: 5000 });
    this.timer = setInterval(() => void this.check(), o.everyMs);
    this.timer.unref();
    void this.check();
  }

  async check(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      // On a half-open link the query would wait forever, and every later look with it: the side
      // query's timer closes the connection, which fails the query.
      try {
        const [row] = await this.side.query(
          `SELECT pg_current_wal_lsn() - restart_lsn, wal_status, safe_wal_size, pg_size_bytes(current_setting('max_slot_wal_keep_size') || CASE WHEN current_setting('max_slot_wal_keep_size') ~ '^-?[0-9]+$' THEN 'MB' ELSE '' END) FROM pg_replication_slots WHERE slot_name = ${quoteLiteral(this.o.slot)}`,
        );
        if (!row) return;
        const big = (v: string | null | undefined) =>
          v == null ? undefined : BigInt(v.split('.')[0] as string);
        const seen = {
          retainedBytes: big(row[0]),
          walStatus: row[1] ?? undefined,
          safeWalSize: big(row[2]),
          maxKeepBytes: big(row[3]),
        };
        const v = this.warnings.observe(seen, seen.maxKeepBytes);
        if (v.warning) this.o.warn(v.warning);
        if (v.cleared) this.o.notice(v.cleared);
        const h: SlotHealth = { ...seen, danger: v.summary };
        this.o.report?.(h);
      } finally {
        await this.side.close();
      }
    } catch (err) {
      // The guard is advice: a failed look (the server restarting) is the stream's business.
      this.o.log(`slot guard: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}
