import { createWriteStream } from 'node:fs';
import pino, { type Logger } from 'pino';
import { LOG_REDACT_PATHS } from './redact';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Append JSON lines to this file. */
  file?: string;
  /** Write JSON lines to this stream instead (tests). */
  stream?: NodeJS.WritableStream;
  /** Bindings on every line, e.g. `{ pilot: id }`. */
  base?: Record<string, unknown>;
}

/**
 * JSON logs through pino with credentials redacted. No pino transports (worker threads):
 * the pilot is one esbuild bundle and must not load files at run time.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination =
    options.stream ?? (options.file ? createWriteStream(options.file, { flags: 'a' }) : pino.destination(2));
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? {},
      redact: { paths: LOG_REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A logger that drops everything (library calls made without one). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
