// Names in walduck's output are quoted as PostgreSQL's quote_ident() quotes them: before, status and
// verify printed `a.b.c` for both "a.b".c and a."b.c".
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { shownIdent, shownName, shownStoredName } from '../../../src/wal2json/shown-name.js';

it('plain names stay plain, others are quoted as quote_ident() quotes them', () => {
  assert.equal(shownIdent('orders'), 'orders');
  assert.equal(shownIdent('_a$1'), '_a$1');
  assert.equal(shownIdent('Orders'), '"Orders"');
  assert.equal(shownIdent('select'), '"select"');
  assert.equal(shownIdent('1a'), '"1a"');
  assert.equal(shownIdent('a b'), '"a b"');
  assert.equal(shownIdent('say "hi"'), '"say ""hi"""');
  assert.equal(shownIdent('Ünï'), '"Ünï"');
  assert.equal(shownIdent(''), '""');
  assert.equal(shownName({ schema: 'a.b', table: 'c' }), '"a.b".c');
  assert.equal(shownName({ schema: 'a', table: 'b.c' }), 'a."b.c"');
});

it('a control character is escaped as in U&"…", so the name stays on one line', () => {
  assert.equal(shownIdent('new\nline'), 'U&"new\\000aline"');
  assert.equal(shownIdent('back\\slash\t"q"'), 'U&"back\\\\slash\\0009""q"""');
});

it('a stored schema.table is split at its one dot; with several it cannot be, and is shown as stored', () => {
  assert.equal(shownStoredName('odd schema.Mixed "Part"'), '"odd schema"."Mixed ""Part"""');
  assert.equal(shownStoredName('public.p1'), 'public.p1');
  assert.equal(shownStoredName('a.b.c'), 'a.b.c');
});
