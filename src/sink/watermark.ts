// The low and high watermarks of an online copy, as logical messages in WAL
// (pg_logical_emit_message(true, prefix, content), each in its own transaction): the prefix names walduck and the slot, so another
// walduck replicating the same database through another slot ignores them, and the content names the
// table and the copy attempt, so the watermarks of an earlier run (replayed from WAL after a restart)
// match nothing. The copier (replicator/online-copy.ts) writes them; the sink reads them back in
// stream order.

export interface Watermark {
  readonly schema: string;
  readonly table: string;
  /** The copy attempt: a run id and a counter, never reused. */
  readonly id: string;
  readonly mark: 'low' | 'high';
}

export function copyPrefix(slot: string): string {
  return `walduck.copy:${slot}`;
}

export function formatWatermark(w: Watermark): string {
  return JSON.stringify({ schema: w.schema, table: w.table, id: w.id, mark: w.mark });
}

/** The watermark a message holds, or undefined for anything else under the prefix. */
export function parseWatermark(content: string): Watermark | undefined {
  try {
    const j = JSON.parse(content) as Record<string, unknown>;
    const { schema, table, id, mark } = j;
    if (typeof schema !== 'string' || typeof table !== 'string' || typeof id !== 'string') return undefined;
    if (mark !== 'low' && mark !== 'high') return undefined;
    return { schema, table, id, mark };
  } catch {
    return undefined;
  }
}
