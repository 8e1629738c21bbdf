/**
 * Sandbox tarballs a pilot must refuse (or handle) when a token's SBXloc names them. Built at
 * test time from test/helpers/tarFixtures.ts, so no binary sits in git.
 */
import { gzipSync } from 'node:zlib';
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES } from '../../src/sandbox/sourceTypes';
import { buildTar, maliciousCases, type RawEntry, ustarHeader } from '../helpers/tarFixtures';

export interface TarballCase {
  name: string;
  /** File name in the corpus directory (a `missing` case names a file that is never written). */
  file: string;
  /** The archive bytes; undefined: the file does not exist. */
  bytes?: () => Buffer;
  /** `error`: the token ends in error with these substrings in its message; `done`: it runs. */
  outcome: 'error' | 'done';
  expect: string[];
}

const MASTER: RawEntry = { path: 'master.sh', body: '#!/bin/bash\necho "ran $TOKEN"\n', mode: 0o755 };

/** A pax extended header: `records` such as `size=...` apply to the entry after it. */
function paxHeader(path: string, records: Record<string, string>): Buffer {
  const body = Buffer.from(
    Object.entries(records)
      .map(([key, value]) => {
        // "<len> key=value\n" where len counts itself
        const rest = ` ${key}=${value}\n`;
        let len = rest.length + 1;
        while (String(len).length + rest.length !== len) len++;
        return `${len}${rest}`;
      })
      .join(''),
  );
  const header = ustarHeader({ path }, body.length);
  header.write('x', 156);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return Buffer.concat([header, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/** master.sh, then a file whose pax header declares more bytes than the whole-archive limit. */
function declaredSizeBomb(): Buffer {
  const tar = buildTar([MASTER]);
  const end = tar.length - 1024;
  const huge = paxHeader('PaxHeaders/huge.bin', { size: String(DEFAULT_MAX_BYTES + 1) });
  const entry = ustarHeader({ path: 'huge.bin' }, 0);
  return gzipSync(Buffer.concat([tar.subarray(0, end), huge, entry, Buffer.alloc(1024)]));
}

/** One entry more than the pilot's limit, gzip'd: about 50 MB of headers in under 1 MB. */
function entryCountBomb(): Buffer {
  const entries: RawEntry[] = [MASTER];
  for (let i = 1; i <= DEFAULT_MAX_ENTRIES; i++) entries.push({ path: `f${i}`, body: '' });
  return gzipSync(buildTar(entries), { level: 1 });
}

function truncatedGzip(): Buffer {
  const whole = gzipSync(buildTar([MASTER, { path: 'data.bin', body: Buffer.alloc(256 * 1024, 7) }]));
  return whole.subarray(0, Math.floor(whole.length / 2));
}

/**
 * Every case. `outside` is a directory beside the job dirs that the test watches: the escapes of
 * maliciousCases aim there, never at a system path.
 */
export function tarballCases(outside: string): TarballCase[] {
  const malicious: TarballCase[] = maliciousCases(outside)
    .filter((c) => !c.limits)
    .map((c, i) => ({
      name: c.name,
      file: `malicious-${String(i).padStart(2, '0')}.tar`,
      bytes: () => buildTar(c.entries),
      outcome: 'error',
      expect: [c.culprit],
    }));
  return [
    ...malicious,
    {
      name: 'tar bomb: one entry over the entry limit',
      file: 'bomb-entries.tar.gz',
      bytes: entryCountBomb,
      outcome: 'error',
      // master.sh is entry 1, so f<limit> is the entry that goes over it
      expect: [`f${DEFAULT_MAX_ENTRIES}`, String(DEFAULT_MAX_ENTRIES), 'tar bomb'],
    },
    {
      name: 'tar bomb: a pax header declaring more than the size limit',
      file: 'bomb-size.tar.gz',
      bytes: declaredSizeBomb,
      outcome: 'error',
      expect: ['huge.bin', String(DEFAULT_MAX_BYTES), 'tar bomb'],
    },
    {
      name: 'not a tar at all',
      file: 'not-a-tar.tar',
      bytes: () => Buffer.from('this is a README, not a sandbox\n'.repeat(40)),
      outcome: 'error',
      expect: ['not-a-tar.tar', 'not a readable tar'],
    },
    {
      name: 'gzip cut off in the middle',
      file: 'truncated.tar.gz',
      bytes: truncatedGzip,
      outcome: 'error',
      expect: ['truncated.tar.gz', 'not a readable tar'],
    },
    {
      name: 'empty file',
      file: 'empty.tar',
      bytes: () => Buffer.alloc(0),
      outcome: 'error',
      expect: ['empty.tar', 'not a readable tar'],
    },
    {
      name: 'missing file',
      file: 'missing.tar.gz',
      outcome: 'error',
      expect: ['missing.tar.gz', 'not found'],
    },
    {
      name: 'setuid master.sh (runs, without the setuid bit)',
      file: 'setuid.tar',
      bytes: () =>
        buildTar([{ ...MASTER, body: '#!/bin/bash\nstat -c "mode %a" master.sh\n', mode: 0o4755 }]),
      outcome: 'done',
      expect: ['mode 755'],
    },
    {
      name: 'a good sandbox',
      file: 'good.tar.gz',
      bytes: () => gzipSync(buildTar([MASTER])),
      outcome: 'done',
      expect: ['ran'],
    },
  ];
}
