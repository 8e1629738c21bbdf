import { open } from 'node:fs/promises';
import { LrtError } from '../core';

/**
 * The last `bytes` bytes of a file as UTF-8 text, without reading the rest (logs can be GBs).
 * A cut through a multi-byte character drops its leftover continuation bytes. A file that does
 * not exist reads as ''.
 */
export async function tailFile(path: string, bytes: number): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new LrtError('E_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const { size } = await handle.stat();
    const length = Math.max(0, Math.min(size, Math.floor(bytes)));
    if (length === 0) return '';
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, size - length + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    let start = 0;
    if (length < size) {
      // 0b10xxxxxx bytes continue a character that started before the cut.
      while (start < filled && start < 3 && ((buffer[start] ?? 0) & 0xc0) === 0x80) start++;
    }
    return buffer.subarray(start, filled).toString('utf8');
  } catch (err) {
    throw new LrtError('E_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await handle.close();
  }
}
