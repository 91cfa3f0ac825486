// What the router decides when rows of a replicated table came or went without WAL (a partition
// attached with rows, detached or dropped; a rename whose place in the stream cannot be found): the
// table is re-copied online (the sink records the decision in its open DuckDB transaction), or, when it
// cannot be copied in key chunks, walduck stops with one line saying what happened and what to do.

import { refKey, type TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import type { SourceTable } from './catalog.js';
import { type Leaf, PartitionError } from './leaf.js';
import type { Recopy } from './routing.js';
import type { SkipOrigin } from './skipped-new.js';

export class Recopies {
  /** Roots to re-copy, by refKey, with what happened (joined when several things did). */
  private readonly byRoot = new Map<string, Recopy>();

  constructor(
    /** The followed tables by refKey (the router's, as it is at each decision). */
    private readonly chosen: ReadonlyMap<string, SourceTable>,
    /** Why a root cannot be copied online, or undefined; absent: never (every decision stops). */
    private readonly copyProblem: ((t: SourceTable) => string | undefined) | undefined,
  ) {}

  /** The decisions since the last take. */
  take(): Recopy[] {
    const out = [...this.byRoot.values()];
    this.byRoot.clear();
    return out;
  }

  /** `leaf` was attached to its root while holding rows (an ATTACH writes no WAL for them). */
  attachedWithRows(leaf: Leaf): void {
    this.add(
      leaf.root,
      `table ${shownName(leaf)} was attached as a partition while holding rows (an ATTACH writes no WAL for them)`,
      `table ${shownName(leaf)} was attached as a partition of ${shownName(leaf.root)} while holding rows, and an ATTACH does not write those rows to WAL, so DuckDB's ${shownName(leaf.root)} would miss them: re-copy ${shownName(leaf.root)} (start a new DuckDB file), or attach tables empty and fill them afterwards`,
      'WALDUCK_PARTITION_ATTACHED',
    );
  }

  /** `leaf` left its root: dropped, or detached (its rows left without WAL). */
  leafGone(leaf: Leaf, dropped: boolean): void {
    this.add(
      leaf.root,
      `partition ${shownName(leaf)} was ${dropped ? 'dropped' : 'detached'} (its rows left without WAL)`,
      dropped
        ? `partition ${shownName(leaf)} of ${shownName(leaf.root)} was dropped at the source; its rows left ${shownName(leaf.root)} without a change in WAL, so DuckDB's ${shownName(leaf.root)} still holds them: re-copy ${shownName(leaf.root)} (start a new DuckDB file), or TRUNCATE a partition before dropping it`
        : `partition ${shownName(leaf)} was detached from ${shownName(leaf.root)} at the source; its rows left ${shownName(leaf.root)} without a change in WAL, so DuckDB's ${shownName(leaf.root)} still holds them: re-copy ${shownName(leaf.root)} (start a new DuckDB file)`,
      'WALDUCK_PARTITION_DETACHED',
    );
  }

  /**
   * Re-copies `to`, renamed from `was` at a place walduck could not find (or stops, see add). `taken`:
   * `to` was another table's name earlier in the stream. `renaming`: the renaming transaction, when
   * the catalog named it, and the transaction of the change under `to` that found the rename; without
   * it a later DDL of the table hid the renaming transaction.
   */
  renameHidden(
    was: TableRef,
    to: TableRef,
    taken = false,
    renaming?: { readonly xid: number; readonly current: number | undefined },
  ): void {
    if (taken) {
      this.add(
        to,
        `renamed from ${shownName(was)} to a name another table used earlier in the stream, and changes under ${shownName(to)} in the renaming transaction (or with that transaction unknown) may be either table's`,
        `table ${shownName(was)} was renamed to ${shownName(to)}, a name another table used earlier in the stream, and walduck cannot tell which changes under ${shownName(to)} around the rename are whose: run walduck resync --table ${shownName(to)} to copy it again`,
        'WALDUCK_TABLE_RENAMED',
      );
      return;
    }
    if (renaming) {
      // A swap the catalog showed before the stream reached it, and a change under the new name came
      // first: inside the renaming transaction it may be either table's, before it the other table's.
      const where =
        renaming.current === renaming.xid
          ? `inside the renaming transaction (xid ${renaming.xid}), where it may be either table's`
          : `before the stream reached the renaming transaction (xid ${renaming.xid}), which the source catalog showed first`;
      this.add(
        to,
        `renamed from ${shownName(was)} while another table took that name, and a change under ${shownName(to)} came ${where}, so changes under ${shownName(was)} or ${shownName(to)} around this point may be the wrong table's`,
        `table ${shownName(was)} was renamed to ${shownName(to)} and another table took the name ${shownName(was)}, and a change under ${shownName(to)} came ${where}: changes under ${shownName(was)} or ${shownName(to)} around this point may be the wrong table's; run walduck resync --table ${shownName(to)} to copy it again`,
        'WALDUCK_TABLE_RENAMED',
      );
      return;
    }
    this.add(
      to,
      `renamed from ${shownName(was)} while another table took that name, and the renaming transaction is hidden by a later DDL of the table, so changes under ${shownName(was)} just before this point may be the other table's`,
      `table ${shownName(was)} was renamed to ${shownName(to)} and another table took the name ${shownName(was)}, and walduck could not find the renaming transaction (a later DDL of the table hides it): changes under ${shownName(was)} just before this point may be the other table's; run walduck resync --table ${shownName(to)} to copy it again`,
      'WALDUCK_TABLE_RENAMED',
    );
  }

  /**
   * A change under `name`, which no relation has now, came while `t`'s last rename lies ahead in the
   * stream: `t` may have held that name in between (renamed away and back), and the change be its own.
   */
  heldInBetween(t: TableRef, name: TableRef): void {
    this.add(
      t,
      `changes under ${shownName(name)}, a name no table has now, came before the stream reached the last rename of ${shownName(t)}, which may have held that name in between (renamed away and back)`,
      `changes under ${shownName(name)}, a name no table has now, came before the stream reached the last rename of ${shownName(t)}: they may be its own under a name it held in between (renamed away and back), and walduck cannot tell; run walduck resync --table ${shownName(t)} to copy it again`,
      'WALDUCK_TABLE_RENAMED',
    );
  }

  /**
   * `t` was dropped and a table of the same name created (oid `was` -> `now`): the stream carries no
   * DROP, so DuckDB holds the dropped table's rows, and the new table's changes would land among them.
   */
  replaced(t: TableRef, was: string, now: string): void {
    this.add(
      t,
      `table ${shownName(t)} was dropped and created again at the source (oid ${was} -> ${now}; the dropped table's rows left without WAL)`,
      `table ${shownName(t)} was dropped and created again at the source (oid ${was} -> ${now}): DuckDB's ${shownName(t)} holds the dropped table's rows, and no change in WAL removes them: run walduck resync --table ${shownName(t)} to copy it again, or start a new DuckDB file`,
      'WALDUCK_TABLE_REPLACED',
    );
  }

  /**
   * `t`, a table created while walduck runs (or one the start skipped: `atStart`), was skipped (no
   * key) and can be replicated now: the rows it held meanwhile went past with the stream (skipped-new.ts).
   */
  gainedKey(t: TableRef, origin?: SkipOrigin): void {
    if (origin === 'detached') {
      this.add(
        t,
        'it was detached from a partitioned table while walduck ran, and its rows came without WAL',
        `table ${shownName(t)} was detached from a partitioned table while walduck ran, and its rows came without WAL: its DuckDB table would lack them; give it a primary key (the next start copies it online)`,
        'WALDUCK_TABLE_ADDED',
      );
      return;
    }
    const was =
      origin === 'start'
        ? `table ${shownName(t)} was skipped at start`
        : `new table ${shownName(t)} was skipped`;
    this.add(
      t,
      `${was} until it could be replicated, and rows went past meanwhile`,
      `${was} until it could be replicated, and rows went past meanwhile: its DuckDB table would lack them; give it a primary key (the next start copies it online)`,
      'WALDUCK_TABLE_ADDED',
    );
  }

  /**
   * Rows of `root` came or went without WAL: re-copy it online, or, when it cannot be copied in key
   * chunks, stop with `refusal` (what happened and what to do) and the reason.
   */
  private add(root: TableRef, why: string, refusal: string, code: PartitionError['code']): void {
    const table = this.chosen.get(refKey(root));
    const problem = table ? this.copyProblem?.(table) : 'it is not in the table set';
    if (!this.copyProblem || problem !== undefined)
      throw new PartitionError(
        `${refusal}${problem ? ` (it cannot be re-copied online: ${problem})` : ''}`,
        code,
      );
    const k = refKey(root);
    const was = this.byRoot.get(k);
    this.byRoot.set(k, { root, why: was ? `${was.why}; ${why}` : why });
  }
}
