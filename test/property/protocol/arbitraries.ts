// fast-check generators for every message the protocol layer encodes or decodes.
import fc from 'fast-check';
import type { BackendMessage } from '../../../src/protocol/messages/backend/index.js';
import type { NoticeFields } from '../../../src/protocol/messages/backend/notice-fields.js';
import type { FrontendMessage } from '../../../src/protocol/messages/frontend/index.js';
import type { PrimaryKeepalive } from '../../../src/protocol/replication/primary-keepalive.js';
import type { StandbyStatusUpdate } from '../../../src/protocol/replication/standby-status-update.js';
import type { XLogData } from '../../../src/protocol/replication/xlog-data.js';

export const runs = Number(process.env.WALDUCK_FUZZ_RUNS ?? 200);

/** Text without NUL (a C string cannot hold it), any Unicode. */
export const cstr = (maxLength = 20) =>
  fc.string({ unit: 'grapheme', maxLength }).filter((s) => !s.includes('\0'));
export const bytes = (maxLength = 64) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const i32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
const u64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

const noticeFields: fc.Arbitrary<NoticeFields> = fc
  .record(
    {
      severity: cstr(),
      severityCode: cstr(),
      sqlstate: cstr(5),
      message: cstr(80),
      detail: cstr(),
      hint: cstr(),
      position: cstr(),
      internalPosition: cstr(),
      internalQuery: cstr(),
      where: cstr(),
      schema: cstr(),
      table: cstr(),
      column: cstr(),
      dataType: cstr(),
      constraint: cstr(),
      file: cstr(),
      line: cstr(),
      routine: cstr(),
    },
    { requiredKeys: ['severity', 'sqlstate', 'message'] },
  )
  .map((r) => ({ ...r })); // fc.record builds null-prototype objects; decoders build plain ones

export const backendMessage: fc.Arbitrary<BackendMessage> = fc.oneof(
  fc.constant({ type: 'AuthenticationOk' as const }),
  fc.constant({ type: 'AuthenticationCleartextPassword' as const }),
  bytes(4)
    .filter((b) => b.length === 4)
    .map((salt) => ({ type: 'AuthenticationMD5Password' as const, salt })),
  fc
    .array(
      cstr().filter((s) => s !== ''),
      { maxLength: 4 },
    )
    .map((mechanisms) => ({ type: 'AuthenticationSASL' as const, mechanisms })),
  bytes().map((data) => ({ type: 'AuthenticationSASLContinue' as const, data })),
  bytes().map((data) => ({ type: 'AuthenticationSASLFinal' as const, data })),
  fc
    .record({ code: fc.constantFrom(2, 6, 7, 8, 9, 99), data: bytes() })
    .map((r) => ({ type: 'AuthenticationUnsupported' as const, ...r })),
  fc.record({ name: cstr(), value: cstr() }).map((r) => ({ type: 'ParameterStatus' as const, ...r })),
  fc.record({ pid: i32, secretKey: i32 }).map((r) => ({ type: 'BackendKeyData' as const, ...r })),
  fc
    .constantFrom('I' as const, 'T' as const, 'E' as const)
    .map((status) => ({ type: 'ReadyForQuery' as const, status })),
  noticeFields.map((fields) => ({ type: 'ErrorResponse' as const, fields })),
  noticeFields.map((fields) => ({ type: 'NoticeResponse' as const, fields })),
  fc
    .array(
      fc
        .record({
          name: cstr(),
          tableOid: u32,
          columnNumber: i16,
          typeOid: u32,
          typeSize: i16,
          typeModifier: i32,
          format: fc.constantFrom(0, 1),
        })
        .map((r) => ({ ...r })),
      { maxLength: 5 },
    )
    .map((fields) => ({ type: 'RowDescription' as const, fields })),
  fc
    .array(fc.option(bytes(), { nil: null }), { maxLength: 6 })
    .map((values) => ({ type: 'DataRow' as const, values })),
  cstr().map((tag) => ({ type: 'CommandComplete' as const, tag })),
  fc.constant({ type: 'EmptyQueryResponse' as const }),
  fc
    .record({ format: fc.integer({ min: 0, max: 255 }), columnFormats: fc.array(i16, { maxLength: 4 }) })
    .map((r) => ({ type: 'CopyBothResponse' as const, ...r })),
  bytes(200).map((data) => ({ type: 'CopyData' as const, data })),
  fc.constant({ type: 'CopyDone' as const }),
  fc
    .record({
      minorVersion: i32,
      unrecognized: fc.array(
        cstr().filter((s) => s !== ''),
        { maxLength: 3 },
      ),
    })
    .map((r) => ({ type: 'NegotiateProtocolVersion' as const, ...r })),
  fc
    .record({ pid: i32, channel: cstr(), payload: cstr() })
    .map((r) => ({ type: 'NotificationResponse' as const, ...r })),
);

export const frontendMessage: fc.Arbitrary<FrontendMessage> = fc.oneof(
  fc
    .array(
      fc.tuple(
        cstr().filter((s) => s !== ''),
        cstr(),
      ),
      { maxLength: 6 },
    )
    .map((parameters) => ({ type: 'StartupMessage' as const, parameters })),
  fc.constant({ type: 'SSLRequest' as const }),
  cstr().map((password) => ({ type: 'PasswordMessage' as const, password })),
  fc
    .record({ mechanism: cstr(), data: fc.option(bytes(), { nil: null }) })
    .map((r) => ({ type: 'SASLInitialResponse' as const, ...r })),
  bytes().map((data) => ({ type: 'SASLResponse' as const, data })),
  cstr(200).map((sql) => ({ type: 'Query' as const, sql })),
  bytes().map((data) => ({ type: 'CopyData' as const, data })),
  fc.constant({ type: 'CopyDone' as const }),
  fc.constant({ type: 'Terminate' as const }),
);

export const xlogData: fc.Arbitrary<XLogData> = fc
  .record({ dataStart: u64, walEnd: u64, serverTime: i64, data: bytes(300) })
  .map((r) => ({ type: 'XLogData' as const, ...r }));

export const primaryKeepalive: fc.Arbitrary<PrimaryKeepalive> = fc
  .record({ walEnd: u64, serverTime: i64, replyRequested: fc.boolean() })
  .map((r) => ({ type: 'PrimaryKeepalive' as const, ...r }));

export const standbyStatusUpdate: fc.Arbitrary<StandbyStatusUpdate> = fc
  .record({ write: u64, flush: u64, apply: u64, clientTime: i64, replyRequested: fc.boolean() })
  .map((r) => ({ type: 'StandbyStatusUpdate' as const, ...r }));
