// The server warnings wal2json gives for an UPDATE or DELETE it drops, read back to the table, and the
// stop they cause only for a followed table not being copied from scratch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LostChanges, NoticeFilter, parseLostChange } from '../../../src/replicator/lost-change.js';

describe('parseLostChange', () => {
  it('reads format-version 2, trying every "." inside the quotes as the separator', () => {
    assert.deepEqual(parseLostChange('no tuple identifier for DELETE in table "public"."t"'), {
      what: 'DELETE',
      refs: [{ schema: 'public', table: 't' }],
    });
    assert.deepEqual(parseLostChange('no tuple identifier for UPDATE in table "a"."b"."c"'), {
      what: 'UPDATE',
      refs: [
        { schema: 'a', table: 'b"."c' },
        { schema: 'a"."b', table: 'c' },
      ],
    });
  });

  it('reads format-version 1 (the table alone) and ignores other warnings', () => {
    assert.deepEqual(parseLostChange('table "my t" without primary key or replica identity is nothing'), {
      what: 'UPDATE or DELETE',
      refs: [{ schema: undefined, table: 'my t' }],
    });
    assert.equal(parseLostChange('some other warning'), undefined);
  });
});

describe('LostChanges', () => {
  const followed = { schema: 'public', table: 'T.x' };
  const make = (fresh: boolean) =>
    new LostChanges({
      owner: (s, t) => ((s ?? 'public') === 'public' && t === 'T.x' ? followed : undefined),
      copyingFresh: () => fresh,
    });

  it('stops at the next commit for a followed table, naming resync with the name quoted as --table reads it', () => {
    const l = make(false);
    assert.equal(l.notice('no tuple identifier for UPDATE in table "public"."other"'), false);
    l.check();
    assert.equal(l.notice('no tuple identifier for UPDATE in table "public"."T.x"'), true);
    assert.throws(() => l.check(), /public\."T\.x": .*UPDATE.*walduck resync --table public\."T\.x" /);
  });

  it('lets a table being copied from scratch go on', () => {
    const l = make(true);
    assert.equal(l.notice('table "T.x" without primary key or replica identity is nothing'), true);
    l.check();
  });
});

describe('NoticeFilter', () => {
  const dropped = (t: string) => `no tuple identifier for UPDATE in table "public"."${t}"`;

  it('says a dropped change once per run, marked when its table is not followed', () => {
    const lines: string[] = [];
    const f = new NoticeFilter((l) => lines.push(l));
    f.release(() => undefined);
    for (let i = 0; i < 3; i++) f.say('WARNING', dropped('other'), false);
    f.say('WARNING', dropped('mine'), true);
    f.say('WARNING', dropped('mine'), true);
    f.say('NOTICE', 'something else', undefined);
    f.say('NOTICE', 'something else', undefined);
    assert.deepEqual(lines, [
      `server WARNING: ${dropped('other')} (a table walduck does not follow: nothing of the replica is lost; said once per run)`,
      `server WARNING: ${dropped('mine')}`,
      'server NOTICE: something else',
      'server NOTICE: something else',
    ]);
  });

  it('holds dropped changes until the tables are known, then tells them apart', () => {
    const lines: string[] = [];
    const f = new NoticeFilter((l) => lines.push(l));
    f.say('WARNING', dropped('other'), undefined);
    f.say('WARNING', dropped('mine'), undefined);
    f.say('WARNING', dropped('other'), undefined);
    assert.deepEqual(lines, []);
    f.release((m) => m.includes('mine'));
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /"other" \(a table walduck does not follow/);
    assert.equal(lines[1], `server WARNING: ${dropped('mine')}`);
  });
});
