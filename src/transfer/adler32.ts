import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflate } from 'node:zlib';

const MOD = 65521;
// The largest n with 255n(n+1)/2 + (n+1)(MOD-1) < 2^32: sums stay exact between reductions.
const NMAX = 5552;

/** Running adler32 (RFC 1950, the checksum the LTA and dCache record) over chunks of bytes. */
export class Adler32 {
  private a = 1;
  private b = 0;
  private count = 0;

  update(chunk: Uint8Array | string): this {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let { a, b } = this;
    let i = 0;
    while (i < bytes.length) {
      const end = Math.min(i + NMAX, bytes.length);
      for (; i < end; i++) {
        a += bytes[i]!;
        b += a;
      }
      a %= MOD;
      b %= MOD;
    }
    this.a = a;
    this.b = b;
    this.count += bytes.length;
    return this;
  }

  /**
   * Appends bytes summed elsewhere: `value` is the adler32 of `length` bytes that follow the
   * bytes seen so far (zlib's adler32_combine).
   */
  append(value: number, length: number): this {
    const rem = length % MOD;
    let a = this.a;
    let b = (rem * a) % MOD;
    a += (value & 0xffff) + MOD - 1;
    b += this.b + ((value >>> 16) & 0xffff) + MOD - rem;
    this.a = a % MOD;
    this.b = b % MOD;
    this.count += length;
    return this;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.count;
  }

  digest(): number {
    return ((this.b << 16) | this.a) >>> 0;
  }

  /** Eight lower-case hex digits, as `gfal-sum URL ADLER32` prints it. */
  hex(): string {
    return formatAdler32(this.digest());
  }
}

export function formatAdler32(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** adler32 of one buffer or string, as eight hex digits. */
export function adler32(data: Uint8Array | string): string {
  return new Adler32().update(data).hex();
}

/**
 * A checksum as catalogues write it (`0x11E60398`, `11e60398`, `84b021f`) in the form `hex()`
 * gives, or undefined when it is not an adler32 value.
 */
export function normalizeAdler32(text: string): string | undefined {
  const m = /^(?:0x)?([0-9a-f]{1,8})$/i.exec(text.trim());
  return m ? m[1]!.toLowerCase().padStart(8, '0') : undefined;
}

/** A pass-through stream that feeds every chunk to `sum` (and `onChunk`, for progress). */
export function adler32Tap(sum: Adler32, onChunk?: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      sum.update(chunk);
      onChunk?.(chunk.length);
      callback(null, chunk);
    },
  });
}

const READ_CHUNK = 1 << 20;

/**
 * A zlib stream at level 0 copies its input into stored blocks and ends with the adler32 of it:
 * zlib's own (SIMD) adler32, on the libuv thread pool, about 3x our loop and off the main thread.
 * Only the trailer is kept.
 */
function nativeAdler32Sink(): { deflate: ReturnType<typeof createDeflate>; tail: Writable; value(): number } {
  let last: Buffer = Buffer.alloc(0);
  const deflate = createDeflate({ level: 0, chunkSize: READ_CHUNK });
  const tail = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      last = chunk.length >= 4 ? chunk : Buffer.concat([last, chunk]).subarray(-4);
      callback();
    },
  });
  return { deflate, tail, value: () => last.readUInt32BE(last.length - 4) };
}

/** Feeds a local file (or its first `end` bytes) to `sum`. */
export async function updateFromFile(
  sum: Adler32,
  path: string,
  options: { end?: number; signal?: AbortSignal } = {},
): Promise<Adler32> {
  if (options.end === 0) return sum;
  const range = options.end === undefined ? {} : { end: options.end - 1 };
  const { deflate, tail, value } = nativeAdler32Sink();
  // 1 MiB reads: with the default 64 KiB, reading cost more CPU than the sum itself.
  const stream = createReadStream(path, { ...range, highWaterMark: READ_CHUNK });
  if (options.signal) await pipeline(stream, deflate, tail, { signal: options.signal });
  else await pipeline(stream, deflate, tail);
  return stream.bytesRead === 0 ? sum : sum.append(value(), stream.bytesRead);
}

/** adler32 of a local file, streamed. */
export async function adler32File(path: string, signal?: AbortSignal): Promise<string> {
  return (await updateFromFile(new Adler32(), path, { signal })).hex();
}
