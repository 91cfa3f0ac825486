// Renames of followed tables that the source catalog shows and the stream has not reached yet.
//
// The catalog is "now"; the stream may be behind it. wal2json names a change by the table's name when
// it was written, and a RENAME (or SET SCHEMA) takes an ACCESS EXCLUSIVE lock, so every transaction
// that wrote the table under its old name committed before the rename did, and every later one names
// it by the new name. The catalog check reads the table's name together with pg_current_wal_lsn():
// the rename committed before that position. Once the stream has passed a commit at or after it, no
// change under the old name can come any more, so the rename can be applied there even if the table
// had no change since (its first change under the new name applies it earlier; partitions.ts).

import { type Lsn, parseLsn } from '../protocol/lsn.js';
import type { TableRef } from '../wal2json/change.js';

export interface PendingRename {
  readonly oid: string;
  readonly from: TableRef;
  readonly to: TableRef;
  /** The WAL insert position read with the catalog that showed `to`. */
  readonly at: Lsn;
}

export class PendingRenames {
  private readonly byOid = new Map<string, PendingRename>();

  /** The catalog shows `oid` (followed as `from`) named `to`; true when that is news (worth a line). */
  saw(oid: string, from: TableRef, to: TableRef, walPosition: string): boolean {
    const was = this.byOid.get(oid);
    if (was && was.to.schema === to.schema && was.to.table === to.table) return false;
    const at = parseLsn(walPosition) ?? 0n;
    this.byOid.set(oid, {
      oid,
      from: { schema: from.schema, table: from.table },
      to: { schema: to.schema, table: to.table },
      at,
    });
    return true;
  }

  /** Followed already (by a change under the new name), or the table is gone. */
  drop(oid: string): void {
    this.byOid.delete(oid);
  }

  /** A rename still ahead in the stream, if any. */
  any(): PendingRename | undefined {
    for (const p of this.byOid.values()) return p;
    return undefined;
  }

  /** The renames whose old name can no longer appear once the stream passed the commit at `lsn`. */
  due(lsn: Lsn): PendingRename[] {
    const out: PendingRename[] = [];
    for (const [oid, p] of this.byOid) {
      if (p.at === 0n || p.at > lsn) continue;
      out.push(p);
      this.byOid.delete(oid);
    }
    return out;
  }
}
