// The root entry's replicate(): the command as a function. Stopped by the caller's AbortSignal with
// complete transactions committed, progress reported as it goes, the same errors as the command line
// (the error's describeError line is exactly the CLI's stderr line), and a caller's sink.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { describeError } from '../../../src/cli/errors.js';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import {
  type ChangeSink,
  PgServerError,
  ReplicateError,
  type ReplicateStatus,
  replicate,
} from '../../../src/index.js';
import { parseLsn } from '../../../src/protocol/lsn.js';
import { useCluster } from '../../helpers/cluster.js';
import { duckQuery } from '../../helpers/duck.js';
import { runWalduck } from '../../helpers/walduck.js';

describe('replicate() from the root entry', () => {
  const c = useCluster();
  const tmp = mkdtempSync(join(tmpdir(), 'walduck-api-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('runs until the signal aborts, reporting progress, and commits what it applied', async () => {
    psql(c.info, 'CREATE TABLE api_t (id int PRIMARY KEY, v text); INSERT INTO api_t VALUES (1, $$old$$)');
    psql(c.info, `GRANT SELECT ON api_t TO ${c.info.roles['scram-sha-256'].user}`);
    const file = join(tmp, 'api.duckdb');
    const stop = new AbortController();
    const seen: ReplicateStatus[] = [];
    let target: bigint | undefined;
    const done = replicate({
      source: conninfo(c.info),
      duckdb: file,
      tables: ['api_t'],
      slot: 'api_slot',
      batchMs: 50,
      signal: stop.signal,
      onProgress: (p) => {
        seen.push(p);
        // Stop once the second transaction is durable: the caller decides, from the progress events.
        if (target !== undefined && p.applied >= target) stop.abort();
      },
    });
    // The slot exists once the initial snapshot is done; then write and note where that write ends.
    for (;;) {
      if (
        psql(c.info, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'api_slot' AND active") ===
        '1'
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    psql(c.info, "INSERT INTO api_t VALUES (2, 'new'); UPDATE api_t SET v = 'changed' WHERE id = 1");
    target = parseLsn(psql(c.info, 'SELECT pg_current_wal_lsn()'));
    const r = await done;
    assert.equal(r.stoppedBy, 'signal');
    assert.equal(r.changes, 2);
    assert.ok(seen.length > 0 && seen.every((p, i) => i === 0 || p.applied >= (seen[i - 1]?.applied ?? 0n)));
    assert.deepEqual(await duckQuery(file, 'SELECT id, v FROM api_t ORDER BY id'), [
      [1, 'changed'],
      [2, 'new'],
    ]);
  });

  it('rejects with the error the command line prints, word for word', async () => {
    const source = conninfo(c.info, 'scram-sha-256', { password: 'not-the-Secret' });
    const err = await replicate({ source, duckdb: join(tmp, 'bad.duckdb'), tables: ['api_t'] }).then(
      () => assert.fail('replicate() resolved with a wrong password'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PgServerError);
    assert.equal(err.code, '28P01');
    const cli = await runWalduck([
      'replicate',
      '--source',
      source,
      '--duckdb',
      join(tmp, 'bad2.duckdb'),
      '--tables',
      'api_t',
    ]);
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr.trimEnd(), describeError(err));
  });

  it("refuses an initial snapshot into a caller's sink", async () => {
    const sink: ChangeSink = {
      storedLsn: 0n,
      inSourceTransaction: false,
      hasUncommitted: false,
      due: false,
      apply: async () => {},
      commit: async () => undefined,
      rollback: async () => {},
      advanceIdle: async () => false,
    };
    await assert.rejects(
      replicate({ source: conninfo(c.info), sink: async () => sink, snapshot: 'force' }),
      (e: unknown) => e instanceof ReplicateError && e.code === 'WALDUCK_SNAPSHOT_CUSTOM_SINK',
    );
  });
});
