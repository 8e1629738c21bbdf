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

/** Edit distance of two short strings (names, keys): insertions, deletions, changes and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known name `word` was most likely meant to be (`Tokne` -> `Token`, `token` -> `Token`):
 * case aside, at most a third of its letters off (and at least one). Undefined when none is close.
 */
export function closestName(word: string, known: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    if (name === word) continue;
    const distance = editDistance(lower, name.toLowerCase());
    if (distance <= Math.max(1, Math.floor(word.length / 3)) && (!best || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name;
}

/** A count with its noun, `1 token` and `2 tokens` (not `1 tokens`); `plural` for irregular nouns. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
