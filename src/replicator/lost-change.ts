// Row changes wal2json drops. PostgreSQL logs no old-row identity for an UPDATE or DELETE of a table
// with REPLICA IDENTITY NOTHING (or DEFAULT without a primary key), and wal2json then sends nothing of
// the change, only a server WARNING on the replication connection:
//   v2: no tuple identifier for UPDATE in table "public"."t"
//   v1: table "t" without primary key or replica identity is nothing
// At start walduck refuses such a table (preflight); this is the same table made so while walduck runs
// (ALTER TABLE … REPLICA IDENTITY NOTHING, or its primary key dropped). The change is gone from the
// stream for good: replaying the WAL meets the same warning, so the only way back is a fresh copy of
// the table. walduck stops before committing the transaction that held it.
//
// The warning is read from the connection when its bytes arrive, ahead of the loop: every change after
// it in the stream, the lost change's own COMMIT included, is applied later. So a check before each
// DuckDB commit never lets that transaction through (it may stop one commit earlier, which is
// harmless: the stored position says where to resume).

import type { TableRef } from '../wal2json/change.js';
import { shownName } from '../wal2json/shown-name.js';
import { ReplicateError } from './errors.js';

export interface LostChange {
  /** UPDATE or DELETE (format-version 1 does not say which). */
  readonly what: string;
  /** The names the warning can mean: schema undefined when it names the table alone (v1). */
  readonly refs: readonly { readonly schema: string | undefined; readonly table: string }[];
}

const V2 = /^no tuple identifier for (UPDATE|DELETE) in table "(.*)"$/s;
const V1 = /^table "(.*)" without primary key or replica identity is nothing$/s;

/** The change a server warning says wal2json dropped, or undefined for every other warning. */
export function parseLostChange(message: string): LostChange | undefined {
  const v2 = V2.exec(message);
  if (v2) {
    // "schema"."table" printed without escaping: each `"."` inside may be the separator.
    const inner = v2[2] ?? '';
    const refs: { schema: string; table: string }[] = [];
    for (let i = inner.indexOf('"."'); i >= 0; i = inner.indexOf('"."', i + 1))
      refs.push({ schema: inner.slice(0, i), table: inner.slice(i + 3) });
    return refs.length > 0 ? { what: v2[1] ?? 'UPDATE', refs } : undefined;
  }
  const v1 = V1.exec(message);
  if (v1) return { what: 'UPDATE or DELETE', refs: [{ schema: undefined, table: v1[1] ?? '' }] };
  return undefined;
}

export interface LostChangeWatch {
  /** The followed table a name is (a leaf: its root), or undefined when walduck does not follow it. */
  readonly owner: (schema: string | undefined, table: string) => TableRef | undefined;
  /** A fresh online copy of the table is under way: its changes until the first chunk do not matter. */
  readonly copyingFresh: (ref: TableRef) => boolean;
}

/**
 * Which server warnings reach stderr. wal2json warns for every UPDATE and DELETE it drops, of every
 * table (walduck passes no add-tables), so a keyless table walduck does not follow, updated 20 times a
 * second, wrote 20 lines a second for as long as walduck ran, and again at each replay after a
 * reconnect. A dropped change is said once per run and message (a table and, in format-version 2, the
 * kind of change): marked as not followed for a table walduck does not follow; one of a followed table
 * stops walduck anyway (LostChanges), with its own line. Until the first session knows its tables
 * (the stream starts while the preflight runs), such warnings wait, so they can be told apart.
 */
export class NoticeFilter {
  private readonly said = new Set<string>();
  /** Dropped-change warnings that arrived before release(): message -> severity. */
  private held: Map<string, string> | undefined = new Map();

  constructor(private readonly warn: (line: string) => void) {}

  /** A server notice; `followed`: whether it is a dropped change of a followed table, if known. */
  say(severity: string, message: string, followed: boolean | undefined): void {
    if (parseLostChange(message) === undefined) {
      this.warn(`server ${severity}: ${message}`);
      return;
    }
    if (followed === undefined && this.held) {
      this.held.set(message, severity);
      return;
    }
    if (this.said.has(message)) return;
    this.said.add(message);
    this.warn(
      followed === false
        ? `server ${severity}: ${message} (a table walduck does not follow: nothing of the replica is lost; said once per run)`
        : `server ${severity}: ${message}`,
    );
  }

  /** The tables are known (or never will be, with a caller's own sink): says what waited. */
  release(followed: (message: string) => boolean | undefined): void {
    const held = this.held;
    this.held = undefined;
    for (const [message, severity] of held ?? []) this.say(severity, message, followed(message));
  }
}

/** One session's dropped changes of followed tables, checked before every DuckDB commit. */
export class LostChanges {
  private lost: { ref: TableRef; what: string } | undefined;

  constructor(private readonly watch: LostChangeWatch) {}

  /** A server notice: true when it is a dropped change of a followed table (recorded). */
  notice(message: string): boolean {
    const l = parseLostChange(message);
    if (!l) return false;
    for (const r of l.refs) {
      const ref = this.watch.owner(r.schema, r.table);
      if (ref === undefined) continue;
      this.lost ??= { ref, what: l.what };
      return true;
    }
    return false;
  }

  /** Throws the line that stops, when a followed table lost a change since the last commit. */
  check(): void {
    const l = this.lost;
    if (l === undefined) return;
    // A table copied again from scratch: the chunk reads what the lost change did.
    if (this.watch.copyingFresh(l.ref)) {
      this.lost = undefined;
      return;
    }
    const name = shownName(l.ref);
    // As --table reads it: a part that is not a plain lower-case name is quoted.
    const part = (x: string) => (/^[a-z_][a-z0-9_]*$/.test(x) ? x : `"${x.replaceAll('"', '""')}"`);
    throw new ReplicateError(
      'apply',
      'WALDUCK_CHANGE_WITHOUT_IDENTITY',
      `${name}: the source logged an ${l.what} without the row's identity (REPLICA IDENTITY NOTHING, or its primary key dropped), which wal2json drops, so it cannot reach the replica; replication stopped before that transaction (nothing after it acknowledged): run ALTER TABLE ... REPLICA IDENTITY DEFAULT (with a primary key) or FULL, then walduck resync --table ${part(l.ref.schema)}.${part(l.ref.table)} to copy it again`,
    );
  }
}
