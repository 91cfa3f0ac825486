// The names and the error the router's files share: a leaf partition as the catalog shows it, and
// PartitionError. Apart from leaves.ts, which uses recopies.ts, so that recopies.ts can name them
// without an import cycle.

import { WalduckError } from '../protocol/errors.js';
import type { LeafInfo } from './routing.js';

export interface Leaf extends LeafInfo {
  readonly oid: string;
  /** The leaf's own replica identity logs a key (or the full row); the root's does not pass down. */
  readonly identityOk: boolean;
}

export class PartitionError extends WalduckError {
  override readonly name = 'PartitionError';
  readonly phase = 'apply';
  constructor(
    message: string,
    readonly code:
      | 'WALDUCK_PARTITION_DETACHED'
      | 'WALDUCK_PARTITION_ATTACHED'
      | 'WALDUCK_PARTITION_IDENTITY'
      | 'WALDUCK_TABLE_RENAMED'
      | 'WALDUCK_TABLE_REPLACED'
      | 'WALDUCK_TABLE_ADDED'
      | 'WALDUCK_RENAME_REPLAY',
  ) {
    super(message);
  }
}
