import { posix, win32 } from 'node:path';
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, type ExtractLimits } from './sourceTypes';

/** One archive entry as the tar parser reports it (no I/O here: the rules are pure). */
export interface TarEntryInfo {
  /** The path exactly as the archive names it. */
  path: string;
  /** tar's type name: File, Directory, SymbolicLink, Link, CharacterDevice ... */
  type: string;
  linkpath?: string;
  size: number;
  mode?: number;
}

export interface UnsafeEntry {
  /** The entry's path as written in the archive. */
  path: string;
  reason: string;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const REFUSED_TYPES: Record<string, string> = {
  CharacterDevice: 'character device',
  BlockDevice: 'block device',
  FIFO: 'FIFO (named pipe)',
};
/** Like the kernel's ELOOP limit. */
const MAX_LINK_HOPS = 40;

export const isFileType = (type: string): boolean => FILE_TYPES.has(type);

/**
 * Absolute for POSIX or Windows rules: tar strips a Windows root (`c:`, `\\`) too, which would
 * put the entry somewhere other than where it was vetted.
 */
function isAbsoluteAnywhere(p: string): boolean {
  return posix.isAbsolute(p) || win32.parse(p).root !== '';
}

/** The entry's place inside the sandbox as path segments, or why it has none. */
export function entrySegments(path: string): string[] | string {
  if (isAbsoluteAnywhere(path)) return 'absolute path';
  const parts = path.split(/[\\/]/);
  if (parts.includes('..')) return "path contains '..'";
  return parts.filter((p) => p !== '' && p !== '.');
}

/**
 * Where a symbolic link placed in `dirSegs` ends up, following the archive's own links the way
 * the kernel would (`a/l -> ..` then `a/m -> l/..` escapes although each target looks inside).
 */
function linkEscapes(dirSegs: string[], target: string, links: Map<string, string>): string | undefined {
  const stack = [...dirSegs];
  const queue = target.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return 'points outside the sandbox';
      stack.pop();
      continue;
    }
    stack.push(part);
    const next = links.get(stack.join('/'));
    if (next === undefined) continue;
    if (++hops > MAX_LINK_HOPS) return 'is part of a symbolic link loop';
    stack.pop();
    queue.unshift(...next.split('/'));
  }
  return undefined;
}

interface Seen {
  info: TarEntryInfo;
  segs: string[];
  /** Hard links: the target's segments. */
  targetSegs?: string[];
}

/**
 * Vets a whole archive from its headers: `add` each entry as it is read (refuses at once what one
 * header shows, and the tar-bomb limits), then `finish` for what needs all entries (links).
 */
export class EntryVetter {
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  private readonly seen: Seen[] = [];
  /** Final state: the last entry at a path decides whether it is a link. */
  private readonly links = new Map<string, string>();
  private readonly everLink = new Set<string>();
  entries = 0;
  bytes = 0;

  constructor(limits: ExtractLimits = {}) {
    this.maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  add(info: TarEntryInfo): UnsafeEntry | undefined {
    const refuse = (reason: string): UnsafeEntry => ({ path: info.path, reason });
    this.entries++;
    if (this.entries > this.maxEntries) {
      return refuse(`archive has more than ${this.maxEntries} entries (tar bomb guard)`);
    }
    const refusedType = REFUSED_TYPES[info.type];
    if (refusedType) return refuse(refusedType);
    const known = isFileType(info.type) || ['Directory', 'SymbolicLink', 'Link'].includes(info.type);
    if (!known) return refuse(`unsupported entry type ${info.type}`);

    const segs = entrySegments(info.path);
    if (typeof segs === 'string') return refuse(segs);
    if (segs.length === 0 && info.type !== 'Directory') return refuse('entry would replace the sandbox root');
    if (isFileType(info.type)) {
      this.bytes += info.size;
      if (this.bytes > this.maxBytes) {
        return refuse(`files add up to more than ${this.maxBytes} bytes (tar bomb guard)`);
      }
    }
    const key = segs.join('/');
    const seen: Seen = { info, segs };
    this.links.delete(key);
    if (info.type === 'SymbolicLink') {
      const target = info.linkpath ?? '';
      if (target === '') return refuse('symbolic link without a target');
      if (isAbsoluteAnywhere(target)) return refuse(`symbolic link to absolute path '${target}'`);
      if (target.includes('\\')) return refuse(`symbolic link target '${target}' contains a backslash`);
      this.links.set(key, target);
      this.everLink.add(key);
    } else if (info.type === 'Link') {
      const target = info.linkpath ?? '';
      if (target === '') return refuse('hard link without a target');
      if (isAbsoluteAnywhere(target)) return refuse(`hard link to absolute path '${target}'`);
      const targetSegs = entrySegments(target);
      if (typeof targetSegs === 'string' || targetSegs.length === 0) {
        return refuse(`hard link to '${target}' outside the sandbox`);
      }
      seen.targetSegs = targetSegs;
    }
    this.seen.push(seen);
    return undefined;
  }

  /** The first entry (in archive order) that is unsafe once all links are known. */
  finish(): UnsafeEntry | undefined {
    for (const { info, segs, targetSegs } of this.seen) {
      const through = this.linkAncestor(segs);
      if (through) return { path: info.path, reason: `path goes through symbolic link '${through}'` };
      if (info.type === 'SymbolicLink') {
        const target = info.linkpath ?? '';
        const why = linkEscapes(segs.slice(0, -1), target, this.links);
        if (why) return { path: info.path, reason: `symbolic link to '${target}' ${why}` };
      }
      if (targetSegs) {
        const via = this.linkAncestor(targetSegs);
        if (via) return { path: info.path, reason: `hard link target goes through symbolic link '${via}'` };
      }
    }
    return undefined;
  }

  private linkAncestor(segs: string[]): string | undefined {
    for (let i = 1; i < segs.length; i++) {
      const prefix = segs.slice(0, i).join('/');
      if (this.everLink.has(prefix)) return prefix;
    }
    return undefined;
  }
}
