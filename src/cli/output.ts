// Where `walduck stream` writes: stdout, or a file opened for appending (as pg_recvlogical opens it).
//
// What may be acknowledged differs: bytes handed to a pipe are as durable as that pipe gets, so stdout
// acknowledges once a write completes; a file acknowledges only what an fsync has made durable.
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';

export interface Output {
  /** True for a file: acknowledge only after sync(). */
  readonly durableOnSync: boolean;
  /** Writes the whole buffer; `done(true)` once it left the process (stdout) or reached the file. */
  write(buf: Buffer, done: (ok: boolean) => void): void;
  /** Resolves once earlier writes can take more (stdout backpressure); at once for a file. */
  ready(): Promise<void>;
  sync(): void;
  close(): void;
  /** Set when the output failed (e.g. EPIPE: the reader went away). */
  readonly error: NodeJS.ErrnoException | undefined;
}

export function openOutput(file: string | undefined, onError: () => void): Output {
  return file === undefined || file === '-' ? stdoutOutput(onError) : fileOutput(file);
}

function fileOutput(path: string): Output {
  // Owner-only, as pg_recvlogical creates it: the stream is row data. (An existing file keeps its mode.)
  const fd = openSync(path, 'a', 0o600);
  // Only a regular file is made durable by fsync; a device such as /dev/null refuses it (EINVAL), and
  // pg_recvlogical likewise syncs regular files only.
  const regular = fstatSync(fd).isFile();
  return {
    durableOnSync: regular,
    error: undefined,
    write(buf, done) {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      done(true);
    },
    ready: () => Promise.resolve(),
    sync: () => {
      if (regular) fsyncSync(fd);
    },
    close: () => closeSync(fd),
  };
}

function stdoutOutput(onError: () => void): Output {
  const out = process.stdout;
  let blocked: Promise<void> | undefined;
  const o: { -readonly [K in keyof Output]: Output[K] } = {
    durableOnSync: false,
    error: undefined,
    write(buf, done) {
      if (o.error) {
        done(false);
        return;
      }
      if (!out.write(buf, (err) => done(!err))) {
        blocked ??= new Promise((resolve) =>
          out.once('drain', () => {
            blocked = undefined;
            resolve();
          }),
        );
      }
    },
    ready: () => blocked ?? Promise.resolve(),
    sync: () => {},
    close: () => {},
  };
  out.on('error', (err: NodeJS.ErrnoException) => {
    o.error ??= err;
    onError();
  });
  return o;
}
