import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Adler32, adler32Tap } from './adler32';

export interface SinkOptions {
  /** Append to an existing partial file (resume) instead of truncating it. */
  append?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** Streams `source` into the local file `path`, feeding every chunk to `sum` on the way. */
export async function streamToFile(source: Readable, path: string, sum: Adler32, options: SinkOptions = {}) {
  const sink = createWriteStream(path, { flags: options.append ? 'a' : 'w' });
  const tap = adler32Tap(sum, options.onProgress);
  if (options.signal) await pipeline(source, tap, sink, { signal: options.signal });
  else await pipeline(source, tap, sink);
}
