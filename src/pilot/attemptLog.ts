import { createWriteStream } from 'node:fs';
import pino, { type Logger } from 'pino';
import { LOG_REDACT_PATHS } from '../core';

/** Where the pilot's log lines go (stderr, a file): shared by the main and per-attempt loggers. */
export interface LogSink {
  stream: NodeJS.WritableStream;
  level: string;
}

/**
 * The pilot's log for one attempt of one token: each line goes to the pilot's log sink and to a
 * file in the job dir that is attached to the token at the end (`pilot-a<N>.log`).
 */
export interface AttemptLog {
  logger: Logger;
  path: string;
  close(): Promise<void>;
}

export function pilotLogger(sink: LogSink, bindings: Record<string, unknown>, extra?: NodeJS.WritableStream) {
  const streams = [{ stream: sink.stream, level: sink.level as pino.Level }];
  if (extra) streams.push({ stream: extra, level: sink.level as pino.Level });
  return pino(
    {
      level: sink.level,
      base: bindings,
      redact: { paths: LOG_REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream(streams),
  );
}

export function openAttemptLog(sink: LogSink, path: string, bindings: Record<string, unknown>): AttemptLog {
  const file = createWriteStream(path, { flags: 'a' });
  return {
    logger: pilotLogger(sink, bindings, file),
    path,
    close: () => new Promise<void>((done) => file.end(done)),
  };
}
