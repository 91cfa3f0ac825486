// COPY … TO STDOUT over the simple query protocol (copy-out only):
//
//   -> Query("COPY … TO STDOUT")
//   <- CopyOutResponse ('H'), CopyData ('d') × n, CopyDone ('c'), CommandComplete ("COPY n"), ReadyForQuery
//
// An error mid-copy arrives as ErrorResponse instead of CopyDone, still followed by ReadyForQuery.
// The server sends one CopyData per row, so handing them out one await each would cost more than
// parsing them: each step yields every payload queued so far, drained synchronously. Payloads are
// views into socket chunks that nothing overwrites; they stay valid as long as they are referenced.
// Backpressure: while a copy runs the wire pauses the socket above `maxBufferedBytes` of queued
// frames, so a slow consumer holds at most that much, whatever the table size.

import { ProtocolError } from './errors.js';
import { COMMAND_COMPLETE } from './messages/backend/command-complete.js';
import { COPY_OUT_RESPONSE, decodeCopyOutResponse } from './messages/backend/copy-out-response.js';
import { DATA_ROW } from './messages/backend/data-row.js';
import { EMPTY_QUERY_RESPONSE } from './messages/backend/empty-query-response.js';
import { decodeErrorResponse, ERROR_RESPONSE } from './messages/backend/error-response.js';
import { READY_FOR_QUERY } from './messages/backend/ready-for-query.js';
import { ROW_DESCRIPTION } from './messages/backend/row-description.js';
import { COPY_DATA } from './messages/copy-data.js';
import { COPY_DONE } from './messages/copy-done.js';
import { type ErrorContext, PgServerError } from './server-error.js';
import type { Wire } from './wire.js';

export interface CopyOutOptions {
  /** Queued-but-unconsumed bytes above which the socket is paused (default 8 MiB). */
  readonly maxBufferedBytes?: number;
}

export const DEFAULT_COPY_BUFFERED_BYTES = 8 * 1024 * 1024;

export async function* runCopyOut(
  wire: Wire,
  sql: string,
  o: CopyOutOptions,
  errorContext: () => ErrorContext,
): AsyncGenerator<readonly Buffer[], void, undefined> {
  wire.setBudget(o.maxBufferedBytes ?? DEFAULT_COPY_BUFFERED_BYTES);
  try {
    wire.send({ type: 'Query', sql });
    let error: PgServerError | undefined;
    let started = false;
    let batch: Buffer[] = [];
    for (;;) {
      if (!wire.take()) {
        if (batch.length > 0) {
          yield batch;
          batch = [];
          continue;
        }
        await wire.next(); // the next frame, or the connection's failure
      }
      switch (wire.tag) {
        case COPY_DATA:
          if (!started) throw unexpected('CopyData before CopyOutResponse');
          batch.push(wire.body);
          break;
        case COPY_OUT_RESPONSE:
          decodeCopyOutResponse(wire.body); // validates; the caller chose the format in its SQL
          started = true;
          break;
        case COPY_DONE:
        case COMMAND_COMPLETE:
          break;
        case ROW_DESCRIPTION:
        case DATA_ROW:
        case EMPTY_QUERY_RESPONSE:
          // Not a copy: read the answer to its end, then refuse (at ReadyForQuery).
          if (started)
            throw unexpected(`unexpected message '${String.fromCharCode(wire.tag)}' during COPY TO STDOUT`);
          break;
        case ERROR_RESPONSE:
          error ??= new PgServerError('command', decodeErrorResponse(wire.body).fields, errorContext());
          break;
        case READY_FOR_QUERY:
          if (batch.length > 0) yield batch;
          if (error) throw error;
          if (!started) throw unexpected('the statement did not start a copy (not COPY … TO STDOUT?)');
          return;
        default:
          throw unexpected(`unexpected message '${String.fromCharCode(wire.tag)}' during COPY TO STDOUT`);
      }
    }
  } finally {
    wire.setBudget(Number.POSITIVE_INFINITY);
  }
}

function unexpected(message: string): ProtocolError {
  return new ProtocolError('WALDUCK_UNEXPECTED_MESSAGE', 'command', message);
}
