// Replication command text: names and values quoted in one place, NUL refused, results parsed.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ArgumentError, ProtocolError } from '../../../src/protocol/errors.js';
import {
  createReplicationSlotCommand,
  dropReplicationSlotCommand,
  parseCreateReplicationSlot,
  parseIdentifySystem,
  startReplicationCommand,
} from '../../../src/protocol/replication/commands.js';

it('quotes identifiers and literals', () => {
  assert.equal(
    createReplicationSlotCommand('my"slot', { plugin: 'wal2json', temporary: true, snapshot: 'export' }),
    'CREATE_REPLICATION_SLOT "my""slot" TEMPORARY LOGICAL "wal2json" EXPORT_SNAPSHOT',
  );
  assert.equal(dropReplicationSlotCommand('s', true), 'DROP_REPLICATION_SLOT "s" WAIT');
  assert.equal(
    startReplicationCommand('s', 0x16_b374_d848n, [
      ['format-version', '2'],
      ['add-tables', "public.o'brien,x\\y"],
    ]),
    `START_REPLICATION SLOT "s" LOGICAL 16/B374D848 ("format-version" '2', "add-tables" 'public.o''brien,x\\y')`,
  );
  assert.throws(() => startReplicationCommand('s', 0n, [['a', 'b\0c']]), ArgumentError);
  // An option without a value is its quoted name alone, as pg_recvlogical sends `-o NAME`; an empty
  // value is still a value.
  assert.equal(
    startReplicationCommand('s', 0n, [
      ['include-xids', null],
      ['x"y', ''],
      ['pretty-print', null],
    ]),
    `START_REPLICATION SLOT "s" LOGICAL 0/0 ("include-xids", "x""y" '', "pretty-print")`,
  );
  assert.throws(() => startReplicationCommand('s', 0n, [['', null]]), ArgumentError);
  assert.throws(() => dropReplicationSlotCommand('', false), ArgumentError);
});

it('parses command results and refuses malformed ones', () => {
  const r = (rows: (string | null)[][]) => [{ command: 'X', fields: [], rows }];
  assert.deepEqual(parseIdentifySystem(r([['7301', '1', '0/16B3748', null]])), {
    systemId: '7301',
    timeline: 1,
    xlogPos: 0x16b3748n,
    dbName: null,
  });
  assert.throws(() => parseIdentifySystem(r([['7301', '1', 'nope', null]])), ProtocolError);
  assert.throws(() => parseIdentifySystem(r([])), ProtocolError);
  assert.deepEqual(parseCreateReplicationSlot(r([['s', '0/1', null, 'wal2json']])), {
    slotName: 's',
    consistentPoint: 1n,
    snapshotName: null,
    outputPlugin: 'wal2json',
  });
});
