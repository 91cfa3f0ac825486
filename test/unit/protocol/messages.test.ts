// Backend and frontend messages from hand-built bytes (written from the "Message Formats" page, not
// from our encoders), each frame split at every offset; malformed bodies become typed errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { decodeBackendMessage } from '../../../src/protocol/messages/backend/index.js';
import { encodeFrontendMessage } from '../../../src/protocol/messages/frontend/index.js';
import { decodePrimaryKeepalive } from '../../../src/protocol/replication/primary-keepalive.js';
import { encodeStandbyStatusUpdate } from '../../../src/protocol/replication/standby-status-update.js';
import { decodeStreamMessage } from '../../../src/protocol/replication/stream-message.js';
import { decodeXLogData } from '../../../src/protocol/replication/xlog-data.js';
import { frames, splitAt } from './support.js';

const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return [...b];
};
const i16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return [...b];
};
const str = (s: string) => [...Buffer.from(s, 'utf8'), 0];
/** A frame from a tag character and body bytes: the length counts itself (4) and the body. */
const frame = (tag: string, body: number[]) =>
  Buffer.from([tag.charCodeAt(0), ...i32(body.length + 4), ...body]);

function decodeEverySplit(bytes: Buffer) {
  const [f] = frames([bytes]);
  assert.ok(f);
  const expected = decodeBackendMessage(f.tag, f.body);
  for (let at = 0; at <= bytes.length; at++) {
    const [g] = frames(splitAt(bytes, at));
    assert.ok(g);
    assert.deepEqual(decodeBackendMessage(g.tag, g.body), expected, `split at ${at}`);
  }
  return expected;
}

describe('backend messages from hand-built bytes', () => {
  it('Authentication variants', () => {
    assert.deepEqual(decodeEverySplit(frame('R', i32(0))), { type: 'AuthenticationOk' });
    assert.deepEqual(decodeEverySplit(frame('R', i32(3))), { type: 'AuthenticationCleartextPassword' });
    assert.deepEqual(decodeEverySplit(frame('R', [...i32(5), 1, 2, 3, 4])), {
      type: 'AuthenticationMD5Password',
      salt: Buffer.from([1, 2, 3, 4]),
    });
    assert.deepEqual(
      decodeEverySplit(frame('R', [...i32(10), ...str('SCRAM-SHA-256-PLUS'), ...str('SCRAM-SHA-256'), 0])),
      {
        type: 'AuthenticationSASL',
        mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'],
      },
    );
    assert.deepEqual(decodeEverySplit(frame('R', [...i32(11), ...Buffer.from('r=abc')])), {
      type: 'AuthenticationSASLContinue',
      data: Buffer.from('r=abc'),
    });
    assert.deepEqual(decodeEverySplit(frame('R', [...i32(12), ...Buffer.from('v=xyz')])), {
      type: 'AuthenticationSASLFinal',
      data: Buffer.from('v=xyz'),
    });
    assert.equal(decodeEverySplit(frame('R', i32(7))).type, 'AuthenticationUnsupported');
  });

  it('ParameterStatus, BackendKeyData, ReadyForQuery, CommandComplete, EmptyQueryResponse', () => {
    assert.deepEqual(decodeEverySplit(frame('S', [...str('TimeZone'), ...str('UTC')])), {
      type: 'ParameterStatus',
      name: 'TimeZone',
      value: 'UTC',
    });
    assert.deepEqual(decodeEverySplit(frame('K', [...i32(4242), ...i32(-7)])), {
      type: 'BackendKeyData',
      pid: 4242,
      secretKey: -7,
    });
    assert.deepEqual(decodeEverySplit(frame('Z', [0x54])), { type: 'ReadyForQuery', status: 'T' });
    assert.deepEqual(decodeEverySplit(frame('C', str('INSERT 0 1'))), {
      type: 'CommandComplete',
      tag: 'INSERT 0 1',
    });
    assert.deepEqual(decodeEverySplit(frame('I', [])), { type: 'EmptyQueryResponse' });
  });

  it('ErrorResponse and NoticeResponse with every field, ignoring unknown codes', () => {
    const fields: [string, string][] = [
      ['S', 'FEHLER'],
      ['V', 'ERROR'],
      ['C', '23505'],
      ['M', 'duplicate key'],
      ['D', 'Key (id)=(1) already exists.'],
      ['H', 'a hint'],
      ['P', '12'],
      ['p', '3'],
      ['q', 'internal'],
      ['W', 'a context'],
      ['s', 'public'],
      ['t', 'tbl'],
      ['c', 'col'],
      ['d', 'dom'],
      ['n', 'tbl_pkey'],
      ['F', 'nbtinsert.c'],
      ['L', '664'],
      ['R', '_bt_check_unique'],
      ['Z', 'future field'],
    ];
    const body = [...fields.flatMap(([k, v]) => [k.charCodeAt(0), ...str(v)]), 0];
    const e = decodeEverySplit(frame('E', body));
    assert.deepEqual(e, {
      type: 'ErrorResponse',
      fields: {
        severity: 'FEHLER',
        severityCode: 'ERROR',
        sqlstate: '23505',
        message: 'duplicate key',
        detail: 'Key (id)=(1) already exists.',
        hint: 'a hint',
        position: '12',
        internalPosition: '3',
        internalQuery: 'internal',
        where: 'a context',
        schema: 'public',
        table: 'tbl',
        column: 'col',
        dataType: 'dom',
        constraint: 'tbl_pkey',
        file: 'nbtinsert.c',
        line: '664',
        routine: '_bt_check_unique',
      },
    });
    assert.equal(decodeEverySplit(frame('N', body)).type, 'NoticeResponse');
  });

  it('RowDescription, DataRow with NULL and empty values, CopyBothResponse', () => {
    const field = [...str('slot_name'), ...i32(0), ...i16(0), ...i32(25), ...i16(-1), ...i32(-1), ...i16(0)];
    assert.deepEqual(decodeEverySplit(frame('T', [...i16(1), ...field])), {
      type: 'RowDescription',
      fields: [
        {
          name: 'slot_name',
          tableOid: 0,
          columnNumber: 0,
          typeOid: 25,
          typeSize: -1,
          typeModifier: -1,
          format: 0,
        },
      ],
    });
    assert.deepEqual(
      decodeEverySplit(frame('D', [...i16(3), ...i32(2), 0x68, 0x69, ...i32(-1), ...i32(0)])),
      {
        type: 'DataRow',
        values: [Buffer.from('hi'), null, Buffer.alloc(0)],
      },
    );
    assert.deepEqual(decodeEverySplit(frame('W', [0, ...i16(0)])), {
      type: 'CopyBothResponse',
      format: 0,
      columnFormats: [],
    });
  });

  it('XLogData and PrimaryKeepalive inside CopyData', () => {
    const xlog = frame('d', [
      0x77,
      ...u64(0x16_b374_d848n),
      ...u64(0x16_b374_d900n),
      ...u64(123n),
      ...Buffer.from('{"a":1}'),
    ]);
    const f = decodeEverySplit(xlog);
    assert.equal(f.type, 'CopyData');
    const m = decodeStreamMessage(f.type === 'CopyData' ? f.data : Buffer.alloc(0));
    assert.deepEqual(m, {
      type: 'XLogData',
      dataStart: 0x16_b374_d848n,
      walEnd: 0x16_b374_d900n,
      serverTime: 123n,
      data: Buffer.from('{"a":1}'),
    });
    const ka = Buffer.from([0x6b, ...u64(0x1_0000_0000n), ...u64(5n), 1]);
    assert.deepEqual(decodePrimaryKeepalive(ka), {
      type: 'PrimaryKeepalive',
      walEnd: 0x1_0000_0000n,
      serverTime: 5n,
      replyRequested: true,
    });
  });

  it('refuses truncated and overlong bodies with MALFORMED_MESSAGE', () => {
    const bad = (tag: string, body: number[]) =>
      assert.throws(
        () => decodeBackendMessage(tag.charCodeAt(0), Buffer.from(body)),
        (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_MALFORMED_MESSAGE',
        `${tag} ${body}`,
      );
    bad('Z', []);
    bad('Z', [0x49, 0]);
    bad('Z', [0x58]);
    bad('K', i32(1));
    bad('S', [...Buffer.from('TimeZone')]);
    bad('D', [...i16(1), ...i32(5), 1, 2]);
    bad('D', [...i16(1), ...i32(-2)]);
    bad('R', [...i32(5), 1, 2]);
    bad('C', [...str('x'), 1]);
    assert.throws(
      () => decodeXLogData(Buffer.from([0x77, 1, 2])),
      (e: unknown) => e instanceof ProtocolError,
    );
    assert.throws(
      () => decodePrimaryKeepalive(Buffer.from([0x6b, ...u64(1n), ...u64(1n)])),
      (e: unknown) => e instanceof ProtocolError,
    );
    assert.throws(
      () => decodeBackendMessage(0x21, Buffer.alloc(0)),
      (e: unknown) => e instanceof ProtocolError && e.code === 'WALDUCK_UNKNOWN_MESSAGE',
    );
  });
});

describe('frontend messages as bytes', () => {
  it('StartupMessage: length, protocol 3.0, pairs, final zero', () => {
    const b = encodeFrontendMessage({
      type: 'StartupMessage',
      parameters: [
        ['user', 'u'],
        ['database', 'd'],
      ],
    });
    assert.deepEqual(
      [...b],
      [...i32(b.length), ...i32(196608), ...str('user'), ...str('u'), ...str('database'), ...str('d'), 0],
    );
  });

  it('SSLRequest is exactly 8 bytes with code 80877103', () => {
    assert.deepEqual(
      [...encodeFrontendMessage({ type: 'SSLRequest' })],
      [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
    );
  });

  it('Query, PasswordMessage, SASL messages, CopyDone, Terminate', () => {
    assert.deepEqual(encodeFrontendMessage({ type: 'Query', sql: 'SELECT 1' }), frame('Q', str('SELECT 1')));
    assert.deepEqual(
      encodeFrontendMessage({ type: 'PasswordMessage', password: 'pw' }),
      frame('p', str('pw')),
    );
    assert.deepEqual(
      encodeFrontendMessage({
        type: 'SASLInitialResponse',
        mechanism: 'SCRAM-SHA-256',
        data: Buffer.from('n,,n=,r=x'),
      }),
      frame('p', [...str('SCRAM-SHA-256'), ...i32(9), ...Buffer.from('n,,n=,r=x')]),
    );
    assert.deepEqual(
      encodeFrontendMessage({ type: 'SASLInitialResponse', mechanism: 'M', data: null }),
      frame('p', [...str('M'), ...i32(-1)]),
    );
    assert.deepEqual(
      encodeFrontendMessage({ type: 'SASLResponse', data: Buffer.from('c=biws') }),
      frame('p', [...Buffer.from('c=biws')]),
    );
    assert.deepEqual(encodeFrontendMessage({ type: 'CopyDone' }), frame('c', []));
    assert.deepEqual(encodeFrontendMessage({ type: 'Terminate' }), frame('X', []));
    assert.throws(() => encodeFrontendMessage({ type: 'Query', sql: 'a\0b' }), /NUL/);
  });

  it('StandbyStatusUpdate: r, write, flush, apply, clientTime, replyRequested', () => {
    const b = encodeStandbyStatusUpdate({
      type: 'StandbyStatusUpdate',
      write: 3n,
      flush: 2n,
      apply: 1n,
      clientTime: 9n,
      replyRequested: true,
    });
    assert.deepEqual([...b], [0x72, ...u64(3n), ...u64(2n), ...u64(1n), ...u64(9n), 1]);
  });
});
