// The slot guard: while walduck streams, a short side connection now and then looks at the slot from
// the server's side (the replication connection cannot run queries while it streams). It reports the
// WAL the slot retains (metrics) and warns before the server gives up on the slot: when wal_status
// leaves 'reserved', and as safe_wal_size shrinks (at half of max_slot_wal_keep_size, then at every
// further halving).

import { type ConnectionSettings, connect } from '../protocol/index.js';
import { quoteLiteral } from '../source/quote.js';
import type { SlotHealth } from './metrics.js';

export interface SlotGuardOptions {
  readonly settings: ConnectionSettings;
  readonly slot: string;
  readonly everyMs: number;
  readonly warn: (msg: string) => void;
  readonly log: (msg: string) => void;
  readonly report?: (h: SlotHealth) => void;
}

export class SlotGuard {
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private lastStatus = 'reserved';
  private warnedBelow: bigint | undefined;

  constructor(private readonly o: SlotGuardOptions) {
    this.timer = setInterval(() => void this.check(), o.everyMs);
    this.timer.unref();
  }

  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const conn = await connect(this.o.settings, { replication: false, connectTimeoutMs: 5000 });
      try {
        const [r] = await conn.query(
          `SELECT pg_current_wal_lsn() - restart_lsn, wal_status, safe_wal_size, pg_size_bytes(current_setting('max_slot_wal_keep_size') || CASE WHEN current_setting('max_slot_wal_keep_size') ~ '^-?[0-9]+$' THEN 'MB' ELSE '' END) FROM pg_replication_slots WHERE slot_name = ${quoteLiteral(this.o.slot)}`,
        );
        const row = r?.rows[0];
        if (!row) return;
        const big = (v: string | null | undefined) =>
          v == null ? undefined : BigInt(v.split('.')[0] as string);
        const h: SlotHealth = {
          retainedBytes: big(row[0]),
          walStatus: row[1] ?? undefined,
          safeWalSize: big(row[2]),
        };
        this.o.report?.(h);
        this.judge(h, big(row[3]));
      } finally {
        await conn.close();
      }
    } catch (err) {
      // The guard is advice: a failed look (the server restarting) is the stream's business.
      this.o.log(`slot guard: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  private judge(h: SlotHealth, keep: bigint | undefined): void {
    const status = h.walStatus ?? 'reserved';
    if (status !== this.lastStatus && status !== 'reserved') {
      this.o.warn(
        `replication slot ${this.o.slot} now has wal_status = '${status}' (was '${this.lastStatus}'): the server may remove WAL the replica still needs; walduck is behind or max_slot_wal_keep_size is too small`,
      );
    }
    this.lastStatus = status;
    const safe = h.safeWalSize;
    if (safe === undefined || keep === undefined || keep <= 0n) return;
    const threshold = this.warnedBelow === undefined ? keep / 2n : this.warnedBelow / 2n;
    if (safe < threshold) {
      this.warnedBelow = safe;
      this.o.warn(
        `replication slot ${this.o.slot}: safe_wal_size is down to ${safe} bytes of max_slot_wal_keep_size ${keep}; past it the server invalidates the slot`,
      );
    } else if (safe > keep / 2n) this.warnedBelow = undefined;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
