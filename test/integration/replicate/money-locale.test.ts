// money is stored as a count of the currency's smallest unit, whose fraction digits come from
// lc_monetary; walduck reads it with lc_monetary=C (2 digits). In a database whose lc_monetary has 0
// (ja_JP), ￥100 arrived as "$1.00" and DuckDB held 1.00, exit 0, and verify (reading the same way)
// said EQUAL. A table with a money column is now refused in one line there with --tables, and skipped
// in all-tables mode (one line; it joins once the column is changed); the other tables replicate.
//
// It needs a ja_JP locale on the machine: made with localedef when the test runs as root and the
// locale's source is installed (before the cluster starts, whose server reads locales at start),
// else the test is skipped, saying why.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { conninfo, psql } from '../../../src/cluster/throwaway.js';
import { useCluster } from '../../helpers/cluster.js';
import { assertReplicaEquals } from '../../helpers/compare.js';
import { runWalduck, startWatched } from '../../helpers/walduck.js';
import { useWorkdir } from '../../helpers/workdir.js';

function hasLocale(): boolean {
  try {
    return /^ja_JP\.utf-?8$/im.test(execFileSync('locale', ['-a'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

/** ja_JP.UTF-8, made when missing and it can be; or why it cannot be. */
function jaLocale(): string | undefined {
  if (hasLocale()) return undefined;
  if (process.getuid?.() !== 0) return 'no ja_JP.UTF-8 locale, and not root to make one with localedef';
  if (!existsSync('/usr/share/i18n/locales/ja_JP'))
    return 'no ja_JP.UTF-8 locale, and no locale source to make it';
  try {
    execFileSync('localedef', ['-i', 'ja_JP', '-f', 'UTF-8', 'ja_JP.UTF-8'], { stdio: 'ignore' });
  } catch (err) {
    return `localedef could not make ja_JP.UTF-8: ${err instanceof Error ? err.message : String(err)}`;
  }
  return hasLocale() ? undefined : 'localedef ran, but ja_JP.UTF-8 is still not listed';
}

const missing = jaLocale();
const dir = useWorkdir('walduck-money-');

function assertOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got: ${r.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}

describe('money in a database whose lc_monetary has other than 2 fraction digits', { skip: missing }, () => {
  const c = useCluster();
  const source = () => conninfo(c.info, 'scram-sha-256', { dbname: 'yen' });
  const args = (file: string, ...extra: string[]) => [
    'replicate',
    '--source',
    source(),
    '--duckdb',
    join(dir, file),
    '--slot',
    file.replace(/\W/g, '_'),
    ...extra,
  ];
  const t = (table: string) => ({ schema: 'public', table });

  it('is refused in one line with --tables, naming the column; skipped in all-tables mode', async () => {
    psql(c.info, 'CREATE DATABASE yen');
    psql(c.info, "ALTER DATABASE yen SET lc_monetary = 'ja_JP.UTF-8'");
    // Entered as the database's users enter it: ￥100 is stored as 100 units.
    psql(
      c.info,
      `CREATE TABLE prices (id int PRIMARY KEY, "Price" money); INSERT INTO prices VALUES (1, 100);
       CREATE TABLE plain (id int PRIMARY KEY, v text); INSERT INTO plain VALUES (1, 'a')`,
      'yen',
    );
    assert.equal(psql(c.info, 'SELECT "Price"::numeric FROM prices', 'yen'), '100');
    const problem =
      /column "Price" of public\.prices is money, and the source database's lc_monetary \(ja_JP\.UTF-8\) gives money 0 fraction digits.*100 times too small/;
    assertOneLineError(
      await runWalduck(args('named.duckdb', '--tables', 'prices,plain', '--until-caught-up')),
      problem,
    );
    // All tables: the others replicate, and it is named in one line (recorded skipped).
    const r = await runWalduck(args('all.duckdb', '--until-caught-up'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`not replicating public\\.prices: ${problem.source}`));
    await assertReplicaEquals({ ...c.info, database: 'yen' }, join(dir, 'all.duckdb'), [t('plain')]);
  });

  it('a table with money created while walduck runs is skipped, and joins once the column is numeric', {
    timeout: 120_000,
  }, async () => {
    const run = startWatched(args('all.duckdb'), 'walduck:replicate,walduck:sink');
    try {
      await run.waitFor(/streaming from slot/);
      psql(
        c.info,
        "CREATE TABLE later (id int PRIMARY KEY, amounts money[]); INSERT INTO later VALUES (1, '{5}')",
        'yen',
      );
      await run.waitFor(
        /not replicating new table public\.later: column amounts of public\.later is money\[\].*0 fraction digits/,
      );
      // The way out the line gives: numeric keeps the amounts (in units of the database's currency).
      psql(c.info, 'ALTER TABLE later ALTER COLUMN amounts TYPE numeric[] USING amounts::numeric[]', 'yen');
      psql(c.info, 'ALTER TABLE prices ALTER COLUMN "Price" TYPE numeric USING "Price"::numeric', 'yen');
      for (const name of ['later', 'prices'])
        await run.waitFor(
          new RegExp(
            `online copy of public\\.${name}: chunk \\d+ wrote \\d+ row\\(s\\) \\(\\d+ in all\\), done`,
          ),
        );
    } finally {
      run.child.kill('SIGINT');
    }
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    await assertReplicaEquals({ ...c.info, database: 'yen' }, join(dir, 'all.duckdb'), [
      t('later'),
      t('plain'),
      t('prices'),
    ]);
    assert.equal(psql(c.info, 'SELECT amounts::text FROM later', 'yen'), '{5}');
  });
});
