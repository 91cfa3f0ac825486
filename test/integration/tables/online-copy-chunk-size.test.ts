// An online copy's first chunk is small, whatever --copy-chunk-rows says: the rows' size is unknown
// before the first one is read, and a first chunk of 20000 rows of 20 kB texts held 200 MB of strings
// in walduck's JS heap. Chunks then double while they stay small (up to --copy-chunk-rows) and halve
// while their text passes 16 MiB.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { replicateArgs, runWalduck } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

const c = useCluster({ database: 'walduck' });
const dir = useWorkdir('walduck-copy-chunk-size-');
const args = replicateArgs(() => conninfo(c.info, 'scram-sha-256'), dir);
const t = (table: string) => ({ schema: 'public', table });

it('the first chunk reads 1000 rows, the next ones double up to --copy-chunk-rows, large rows halve them', {
  timeout: 180_000,
}, async () => {
  psql(
    c.info,
    `CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'a');
     CREATE TABLE small (id int PRIMARY KEY, v text);
     INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 9000) g;
     CREATE TABLE large (id int PRIMARY KEY, doc text);
     ALTER TABLE large ALTER COLUMN doc SET STORAGE EXTERNAL;
     INSERT INTO large SELECT g, repeat(md5(g::text), 640) FROM generate_series(1, 1500) g;`,
  );
  const first = await runWalduck([...args('cs.duckdb', '--tables', 'a'), '--until-caught-up']);
  assert.equal(first.code, 0, first.stderr);
  const r = await runWalduck([...args('cs.duckdb', '--tables', 'a,small,large'), '--until-caught-up'], {
    DEBUG: 'walduck:sink',
  });
  assert.equal(r.code, 0, r.stderr);
  const chunks = (table: string) =>
    // A chunk read again (its watermarks not seen written) is read anew: only written ones count.
    [
      ...r.stderr.matchAll(
        new RegExp(
          `online copy of public\\.${table}: chunk of (\\d+) row\\(s\\), (\\d+) chars read in [\\d.]+ ms$`,
          'gm',
        ),
      ),
    ].map((m) => ({ rows: Number(m[1]), chars: Number(m[2]) }));
  // 9000 rows: 1000, 2000, 4000, then the last 2000 (of an 8000-row read).
  assert.deepEqual(
    chunks('small').map((x) => x.rows),
    [1000, 2000, 4000, 2000],
    r.stderr,
  );
  // 1500 rows of 20 kB: 1000 rows hold 20 MB (past 16 MiB), so the next read asks for 500, and finds
  // them all: one more read finds none.
  const large = chunks('large');
  assert.deepEqual(
    large.map((x) => x.rows),
    [1000, 500, 0],
    r.stderr,
  );
  assert.ok(Math.max(...large.map((x) => x.chars)) <= 1000 * 20_500, r.stderr);
  await assertReplicaEquals(c.info, join(dir, 'cs.duckdb'), [t('a'), t('small'), t('large')]);
});
