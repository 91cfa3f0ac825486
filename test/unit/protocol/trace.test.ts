// Trace events and their one-line rendering: names, lengths, LSNs as X/Y, and no secrets.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { encodeBackendMessage } from '../../../src/protocol/messages/backend/index.js';
import type { FrontendMessage } from '../../../src/protocol/messages/frontend/index.js';
import { encodeFrontendMessage } from '../../../src/protocol/messages/frontend/index.js';
import { encodeStandbyStatusUpdate } from '../../../src/protocol/replication/standby-status-update.js';
import { encodeXLogData } from '../../../src/protocol/replication/xlog-data.js';
import { renderTraceEvent, traceBackend, traceFrontend } from '../../../src/protocol/trace.js';

const send = (m: FrontendMessage) => traceFrontend(m, encodeFrontendMessage(m));
const recv = (frame: Buffer) => traceBackend(frame[0] as number, frame.subarray(5));

it('renders one line per message with decoded fields and an explanation', () => {
  const q = renderTraceEvent(send({ type: 'Query', sql: 'IDENTIFY_SYSTEM' }));
  assert.equal(
    q,
    '> Query (20) sql="IDENTIFY_SYSTEM"  # one SQL or replication command over the simple query protocol',
  );
  const x = renderTraceEvent(
    recv(
      encodeBackendMessage({
        type: 'CopyData',
        data: encodeXLogData({
          type: 'XLogData',
          dataStart: 0x16_b374_d848n,
          walEnd: 0x16_b374_d900n,
          serverTime: 0n,
          data: Buffer.from('{"a":\n1}'),
        }),
      }),
    ),
  );
  assert.match(
    x,
    /^< XLogData \(37\) dataStart=16\/B374D848 walEnd=16\/B374D900 serverTime=2000-01-01T00:00:00.000Z dataLength=8 data="\{\\"a\\":\\n1\}" {2}# /,
  );
  assert.ok(!x.includes('\n'));
  const st = renderTraceEvent(
    send({
      type: 'CopyData',
      data: encodeStandbyStatusUpdate({
        type: 'StandbyStatusUpdate',
        write: 3n,
        flush: 2n,
        apply: 2n,
        clientTime: 0n,
        replyRequested: false,
      }),
    }),
  );
  assert.match(st, /^> StandbyStatusUpdate \(38\) write=0\/3 flush=0\/2 apply=0\/2 /);
});

it('redacts the password and the SCRAM proof, and carries no bytes for them', () => {
  const pw = send({ type: 'PasswordMessage', password: 'hunter2' });
  assert.deepEqual(pw.fields, { password: '[redacted]' });
  assert.equal(pw.bytes, undefined);
  assert.ok(!renderTraceEvent(pw).includes('hunter2'));
  const final = send({ type: 'SASLResponse', data: Buffer.from('c=biws,r=abc,p=SECRETPROOF=') });
  assert.equal(final.fields.data, 'c=biws,r=abc,p=[redacted]');
  assert.equal(final.bytes, undefined);
  assert.ok(!renderTraceEvent(final).includes('SECRETPROOF'));
});

it('names unparsable frames instead of throwing', () => {
  const e = traceBackend(0x21, Buffer.from([1, 2]));
  assert.match(e.name, /^Unparsable/);
  assert.match(renderTraceEvent(e), /unknown backend message/);
});
