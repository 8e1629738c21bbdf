/**
 * Hand-made tar archives, header by header: the `tar` package refuses to write the malicious
 * ones (absolute paths, `..`, links out of the tree, devices), so the sandbox and reliability
 * tests build them here. Plain POSIX ustar, readable by GNU tar (test/sandbox checks that).
 */
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

export type RawEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface RawEntry {
  path: string;
  type?: RawEntryType;
  body?: string | Buffer;
  linkpath?: string;
  mode?: number;
  /**
   * The size written in the header when it should differ from the body (a tar bomb that only
   * declares a huge file). The body is still written as given.
   */
  declaredSize?: number;
  devmajor?: number;
  devminor?: number;
}

const TYPE_FLAGS: Record<RawEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

const BLOCK = 512;

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar fixture: "${value}" is longer than ${length} bytes`);
  bytes.copy(header, offset);
}

/** Zero-padded octal, NUL-terminated, as ustar numeric fields are written. */
function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  writeString(header, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

/** One 512-byte ustar header. Paths up to 100 bytes, or up to 255 split at a slash into prefix. */
export function ustarHeader(entry: RawEntry, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  const type = entry.type ?? 'file';
  let name = entry.path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0) throw new Error(`tar fixture: cannot split long path ${name}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  writeString(header, 0, 100, name);
  writeOctal(header, 100, 8, entry.mode ?? (type === 'dir' ? 0o755 : 0o644));
  writeOctal(header, 108, 8, 1000); // uid
  writeOctal(header, 116, 8, 1000); // gid
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, 1_700_000_000); // mtime
  header.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  writeString(header, 156, 1, TYPE_FLAGS[type]);
  writeString(header, 157, 100, entry.linkpath ?? '');
  writeString(header, 257, 6, 'ustar\0');
  writeString(header, 263, 2, '00');
  writeString(header, 265, 32, 'lofar');
  writeString(header, 297, 32, 'lofar');
  writeOctal(header, 329, 8, entry.devmajor ?? 0);
  writeOctal(header, 337, 8, entry.devminor ?? 0);
  writeString(header, 345, 155, prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** A complete archive: headers, bodies padded to 512 bytes, two zero blocks. */
export function buildTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
    parts.push(ustarHeader(entry, entry.declaredSize ?? body.length));
    if (body.length > 0) {
      parts.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

export async function writeTar(
  file: string,
  entries: RawEntry[],
  options: { gzip?: boolean } = {},
): Promise<Buffer> {
  const tar = buildTar(entries);
  const bytes = options.gzip ? gzipSync(tar) : tar;
  await writeFile(file, bytes);
  return bytes;
}

export interface MaliciousCase {
  name: string;
  entries: RawEntry[];
  /** The entry the refusal must name. */
  culprit: string;
  /** Limits that make a tar bomb out of a small archive. */
  limits?: { maxBytes?: number; maxEntries?: number };
}

const MASTER: RawEntry = { path: 'master.sh', body: '#!/bin/bash\necho ok\n', mode: 0o755 };

/**
 * The archives a sandbox extractor must refuse. Each starts with a harmless master.sh, so a
 * refusal that still wrote "the good part" shows up in the destination. `outside` is an absolute
 * directory OUTSIDE the destination that the test watches (never a system path: a broken
 * extractor must not be able to damage the machine).
 */
export function maliciousCases(outside: string): MaliciousCase[] {
  return [
    {
      name: 'absolute path',
      culprit: `${outside}/abs.txt`,
      entries: [MASTER, { path: `${outside}/abs.txt`, body: 'x' }],
    },
    {
      name: 'Windows drive path',
      culprit: 'c:/evil.txt',
      entries: [MASTER, { path: 'c:/evil.txt', body: 'x' }],
    },
    { name: '../ escape', culprit: '../escape.txt', entries: [MASTER, { path: '../escape.txt', body: 'x' }] },
    {
      name: 'nested .. escape',
      culprit: 'a/../../escape.txt',
      entries: [MASTER, { path: 'a/../../escape.txt', body: 'x' }],
    },
    {
      name: 'symlink to /etc',
      culprit: 'etc',
      entries: [MASTER, { path: 'etc', type: 'symlink', linkpath: '/etc' }],
    },
    {
      name: 'relative symlink out and a file written through it',
      culprit: 'up',
      entries: [
        MASTER,
        { path: 'up', type: 'symlink', linkpath: `../${outside.split('/').pop()}` },
        { path: 'up/planted.txt', body: 'x' },
      ],
    },
    {
      // Each target looks inside on its own (a/l -> .. is the root), but a/m -> l/.. is the root's parent.
      name: 'symlink chain escaping',
      culprit: 'a/m',
      entries: [
        MASTER,
        { path: 'a/', type: 'dir' },
        { path: 'a/l', type: 'symlink', linkpath: '..' },
        { path: 'a/m', type: 'symlink', linkpath: 'l/..' },
      ],
    },
    {
      name: 'write through an inside symlink',
      culprit: 'lnk/file.txt',
      entries: [
        MASTER,
        { path: 'sub/', type: 'dir' },
        { path: 'lnk', type: 'symlink', linkpath: 'sub' },
        { path: 'lnk/file.txt', body: 'x' },
      ],
    },
    {
      name: 'hard link to /etc/passwd',
      culprit: 'passwd',
      entries: [MASTER, { path: 'passwd', type: 'hardlink', linkpath: '/etc/passwd' }],
    },
    {
      name: 'hard link with ..',
      culprit: 'pw',
      entries: [MASTER, { path: 'pw', type: 'hardlink', linkpath: '../outside/secret' }],
    },
    {
      name: 'character device',
      culprit: 'null',
      entries: [MASTER, { path: 'null', type: 'char', devmajor: 1, devminor: 3 }],
    },
    {
      name: 'block device',
      culprit: 'sda',
      entries: [MASTER, { path: 'sda', type: 'block', devmajor: 8, devminor: 0 }],
    },
    { name: 'FIFO', culprit: 'pipe', entries: [MASTER, { path: 'pipe', type: 'fifo' }] },
    {
      name: 'tar bomb by entry count',
      culprit: 'f10.txt',
      limits: { maxEntries: 10 },
      entries: [MASTER, ...Array.from({ length: 20 }, (_, i) => ({ path: `f${i + 1}.txt`, body: 'x' }))],
    },
    {
      name: 'tar bomb by size',
      culprit: 'big.bin',
      limits: { maxBytes: 4096 },
      entries: [MASTER, { path: 'big.bin', body: Buffer.alloc(8192) }],
    },
  ];
}
