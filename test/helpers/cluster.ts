// One throwaway cluster per test file: started in `before`, removed in `after` (also when a test
// failed; and by an exit hook if the process ends without `after`).
import { after, before } from 'node:test';
import {
  type ClusterInfo,
  type StartOptions,
  startCluster,
  stopCluster,
} from '../../src/cluster/throwaway.js';

export interface ClusterHandle {
  /** Valid inside tests (after `before` ran). */
  readonly info: ClusterInfo;
}

export function useCluster(options: StartOptions = {}): ClusterHandle {
  let info: ClusterInfo | undefined;
  before(async () => {
    info = await startCluster(options);
  });
  after(() => {
    if (info) stopCluster(info);
  });
  return {
    get info(): ClusterInfo {
      if (!info) throw new Error('cluster not started: use it inside a test, after before()');
      return info;
    },
  };
}
