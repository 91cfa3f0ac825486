// When the slot is in danger of losing WAL walduck still needs, and how to say so without flooding
// the log: the slot guard (slot-guard.ts) feeds each look at the slot through SlotWarnings, which
// answers with at most one line per change for the worse, one when the danger is over, and a short
// summary for the progress line while it lasts.
//
// Danger, as pg_replication_slots shows it (PostgreSQL 13+):
//   - wal_status past 'reserved': 'extended' (the slot keeps WAL beyond max_wal_size), 'unreserved'
//     (the next checkpoint may remove it), 'lost' (removed: permanent, the stream fails on its own);
//   - safe_wal_size (WAL the server may still write before the slot is lost; NULL when
//     max_slot_wal_keep_size is -1) below a fifth of max_slot_wal_keep_size, or below 1 GB where
//     that is at most half of it (a small budget would otherwise warn all the time); again at each
//     further halving, so a slot sliding towards loss is reported as it slides.

import type { SlotHealth } from './metrics.js';

/** safe_wal_size below this fraction of max_slot_wal_keep_size is low. */
export const LOW_FRACTION = 5n; // 1/5 = 20 %
/** ... or below this many bytes, when that is at most half of max_slot_wal_keep_size. */
export const LOW_FLOOR = 1n << 30n;

const STATUS_RANK: Readonly<Record<string, number>> = { reserved: 0, extended: 1, unreserved: 2, lost: 3 };

/** Where safe_wal_size turns low for a given max_slot_wal_keep_size (undefined: no limit set). */
export function lowThreshold(keep: bigint | undefined): bigint | undefined {
  if (keep === undefined || keep <= 0n) return undefined;
  const fraction = keep / LOW_FRACTION;
  const floor = LOW_FLOOR <= keep / 2n ? LOW_FLOOR : keep / 2n;
  return fraction > floor ? fraction : floor;
}

/** How bad it is: wal_status's rank, and how many halvings below the low threshold (-1: not low). */
export interface Danger {
  readonly statusRank: number;
  readonly lowStep: number;
}

export function danger(h: SlotHealth, keep: bigint | undefined): Danger {
  const statusRank = STATUS_RANK[h.walStatus ?? 'reserved'] ?? 0;
  const low = lowThreshold(keep);
  const safe = h.safeWalSize;
  let lowStep = -1;
  if (low !== undefined && safe !== undefined && safe < low) {
    lowStep = 0;
    // Each halving of what is left is one step more (bounded: 64-bit sizes halve at most 63 times).
    for (let t = low / 2n; safe < t && lowStep < 63; t /= 2n) lowStep++;
  }
  return { statusRank, lowStep };
}

export function inDanger(d: Danger): boolean {
  return d.statusRank > 0 || d.lowStep >= 0;
}

/** What to say after one look: a log line (warning or all-clear) only on a change, and the summary. */
export interface SlotVerdict {
  readonly warning: string | undefined;
  readonly cleared: string | undefined;
  /** While in danger, a few words for the progress line and metrics; undefined when all is well. */
  readonly summary: string | undefined;
}

export class SlotWarnings {
  // The worst warned about since the slot was last out of danger: an improvement that is still in
  // danger stays quiet, so a slot hovering around a boundary does not repeat itself.
  private warned: Danger | undefined;

  constructor(private readonly slot: string) {}

  observe(h: SlotHealth, keep: bigint | undefined): SlotVerdict {
    const d = danger(h, keep);
    if (!inDanger(d)) {
      const was = this.warned;
      this.warned = undefined;
      return {
        warning: undefined,
        cleared: was
          ? `replication slot ${this.slot} is out of danger again: ${describe(h, keep)}`
          : undefined,
        summary: undefined,
      };
    }
    // Short: it ends the progress line, which a terminal must not wrap (it is redrawn in place).
    const budget = h.safeWalSize !== undefined && keep !== undefined && keep > 0n ? ` of ${mb(keep)}` : '';
    const summary = `slot ${h.walStatus ?? 'unknown'}${h.safeWalSize !== undefined ? `, safe_wal_size ${mb(h.safeWalSize)}${budget}` : ''}`;
    const w = this.warned;
    const worse = !w || d.statusRank > w.statusRank || d.lowStep > w.lowStep;
    this.warned = {
      statusRank: Math.max(d.statusRank, w?.statusRank ?? 0),
      lowStep: Math.max(d.lowStep, w?.lowStep ?? -1),
    };
    return {
      warning: worse
        ? `replication slot ${this.slot} is in danger: ${describe(h, keep)}; ${advice(h)}`
        : undefined,
      cleared: undefined,
      summary,
    };
  }
}

function describe(h: SlotHealth, keep: bigint | undefined): string {
  const parts = [`wal_status ${h.walStatus ?? 'unknown'}`];
  if (h.safeWalSize !== undefined)
    parts.push(
      `safe_wal_size ${mb(h.safeWalSize)}${keep !== undefined && keep > 0n ? ` of max_slot_wal_keep_size ${mb(keep)}` : ''}`,
    );
  if (h.retainedBytes !== undefined) parts.push(`retaining ${mb(h.retainedBytes)}`);
  return parts.join(', ');
}

function advice(h: SlotHealth): string {
  if (h.walStatus === 'lost')
    return 'the server removed WAL the replica needs: the replica must be rebuilt (new slot, --snapshot)';
  return 'the server will invalidate the slot once safe_wal_size reaches 0 (walduck is behind, a long transaction holds the slot back, or max_slot_wal_keep_size is too small)';
}

/** MB with one decimal: exact enough for a warning, and the metrics carry the bytes. */
function mb(n: bigint): string {
  const tenths = (n * 10n) / (1n << 20n);
  const sign = tenths < 0n ? '-' : '';
  const a = tenths < 0n ? -tenths : tenths;
  return `${sign}${a / 10n}.${a % 10n} MB`;
}
