// A table dropped between the listing of the source's tables and the reading of its columns and key
// (a start racing a DROP TABLE): it was described as a table with no columns and no key, and the start
// stopped with "has no primary key and no REPLICA IDENTITY FULL", which was untrue. Among all tables
// it is simply no longer one of them (it has no rows anywhere to lose); named in --tables, the line
// says it does not exist. The DROP is made exactly in between, from the query function, on a real server.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { psql } from '../../../src/cluster/throwaway.js';
import { CatalogError, type QueryFn } from '../../../src/source/catalog.js';
import { readSourceTables } from '../../../src/source/source-tables.js';
import { useCluster } from '../../helpers/cluster.js';
import { psqlQuery } from '../../helpers/compare.js';

const c = useCluster({ database: 'walduck' });

/** The catalog as `query` reads it, with `sql` run on another session right after the table listing. */
function dropAfterListing(sql: string): QueryFn {
  const query = psqlQuery(c.info);
  let done = false;
  return async (q) => {
    const rows = await query(q);
    if (!done && q.includes('relreplident')) {
      done = true;
      psql(c.info, sql);
    }
    return rows;
  };
}

it('all tables: a table dropped after the listing is left out of the set', async () => {
  psql(c.info, 'CREATE TABLE stays (id int PRIMARY KEY); CREATE TABLE t1 (id int PRIMARY KEY, v text)');
  const tables = await readSourceTables(dropAfterListing('DROP TABLE t1'), undefined);
  assert.deepEqual(
    tables.map((t) => `${t.schema}.${t.table}`),
    ['public.stays'],
  );
  psql(c.info, 'DROP TABLE stays');
});

it('--tables: a named table dropped after the listing does not exist, and the line says so', async () => {
  psql(c.info, 'CREATE TABLE t2 (id int PRIMARY KEY, v text)');
  await assert.rejects(
    readSourceTables(dropAfterListing('DROP TABLE t2'), [{ schema: 'public', table: 't2' }]),
    (err: unknown) =>
      err instanceof CatalogError &&
      err.code === 'WALDUCK_UNKNOWN_TABLE' &&
      /table public\.t2 does not exist on the source/.test(err.message) &&
      !/primary key/.test(err.message),
  );
});
