import { type ErrorCode, LrtError } from './errors';

/** Where the first byte that is not UTF-8 sits: 1-based line, 1-based byte in that line. */
export interface BadByte {
  line: number;
  byte: number;
  value: number;
}

/** Offset of the first byte that starts no valid UTF-8 sequence (RFC 3629), if any. */
function firstBadOffset(b: Uint8Array): number | undefined {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n >= b.length) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    const next = b[i + 1]!;
    // overlong forms, UTF-16 surrogates, code points past U+10FFFF
    if ((c === 0xe0 && next < 0xa0) || (c === 0xed && next > 0x9f)) return i;
    if ((c === 0xf0 && next < 0x90) || (c === 0xf4 && next > 0x8f)) return i;
    i += n + 1;
  }
  return undefined;
}

/** The first byte of `bytes` that breaks UTF-8 (a truncated last sequence included), if any. */
export function firstNonUtf8Byte(bytes: Uint8Array): BadByte | undefined {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return undefined;
  } catch {
    // broken input only: find where
  }
  const offset = firstBadOffset(bytes) ?? bytes.length - 1;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, byte: offset - lineStart + 1, value: bytes[offset] ?? 0 };
}

/**
 * Text of a file that must be UTF-8 (SURL lists, token configs). Lenient decoding would turn a
 * stray Latin-1 byte into U+FFFD and carry a mangled SURL or value into tokens; this throws
 * `code` naming the file, line and byte instead.
 */
export function decodeUtf8(bytes: Uint8Array, shownAs: string, code: ErrorCode): string {
  const bad = firstNonUtf8Byte(bytes);
  if (!bad) return new TextDecoder('utf-8').decode(bytes);
  const hex = bad.value.toString(16).toUpperCase().padStart(2, '0');
  throw new LrtError(
    code,
    `${shownAs} line ${bad.line}: byte ${bad.byte} (0x${hex}) is not UTF-8; save the file as UTF-8`,
    { details: { source: shownAs, line: bad.line, byte: bad.byte } },
  );
}
