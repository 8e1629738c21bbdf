import { execa } from 'execa';

/**
 * adler32 from zlib itself (through the system python), an implementation independent of ours:
 * eight lower-case hex digits, as gfal-sum prints them.
 */
export async function zlibAdler32(path: string): Promise<string> {
  const { stdout } = await execa('/usr/bin/python3', [
    '-c',
    'import sys, zlib\nv = 1\nwith open(sys.argv[1], "rb") as f:\n    for b in iter(lambda: f.read(1 << 20), b""):\n        v = zlib.adler32(b, v)\nprint("%08x" % v)',
    path,
  ]);
  return stdout.trim();
}
