/**
 * Bad SURL lists and token configs, as the files a user hands to `lrt srm info`,
 * `lrt tokens create --srm` and `lrt tokens create --config`. Each names what the error must
 * say: the cause (a line number, a field path, a byte), not the wording of the code under test.
 */

export interface ExpectedError {
  /** `lrt` exit code (7 invalid input, 5 not found, 1 failure). */
  exit: number;
  /** The LrtError code in the `--json` error body. */
  code: string;
  /** Substrings the message must hold (the file name is always checked as well). */
  includes: string[];
}

export interface InputCase {
  name: string;
  /** File name in the corpus directory. */
  file: string;
  /** The bytes; `missing` writes nothing, `directory` makes a folder of that name. */
  content: string | Buffer | 'missing' | 'directory';
  expect: ExpectedError;
}

/** A SURL of observation L229507 at SARA, subband `sb`. */
export function surl(sb: number, obsid = '229507', host = 'srm.grid.sara.nl:8443/pnfs/grid.sara.nl'): string {
  const nnn = String(sb).padStart(3, '0');
  return `srm://${host}/data/lofar/ops/projects/lc2_038/${obsid}/L${obsid}_SB${nnn}_uv.dppp.MS_3d78b8f1.tar`;
}

const good = (from: number, n: number) => Array.from({ length: n }, (_, i) => surl(from + i));
const lines = (...ls: string[]) => `${ls.join('\n')}\n`;
const invalid = (includes: string[]) => ({ exit: 7, code: 'E_SURL_LIST', includes });

export const SURL_LIST_CASES: InputCase[] = [
  {
    name: 'bare path instead of a SURL',
    file: 'bare-path.txt',
    content: lines(surl(0), '/pnfs/grid.sara.nl/data/lofar/ops/projects/lc2_038/229507/L229507_SB001.tar'),
    expect: invalid(['line 2', 'bare path']),
  },
  {
    name: "a 'gfal-ls -l' listing",
    file: 'gfal-ls.txt',
    content: lines(
      '-rw-r--r--   1 2009  2009  5918392320 Jun  8  2016 L229507_SB000_uv.dppp.MS_3d78b8f1.tar',
      '-rw-r--r--   1 2009  2009  5918392320 Jun  8  2016 L229507_SB001_uv.dppp.MS_3d78b8f1.tar',
    ),
    expect: invalid(['gfal-ls']),
  },
  {
    name: 'two observations in one list',
    file: 'two-obsids.txt',
    content: lines(surl(0), surl(1), surl(2, '229508')),
    expect: invalid(['line 3', 'L229508', 'L229507']),
  },
  {
    name: 'two LTA sites in one list',
    file: 'two-sites.txt',
    content: lines(surl(0), surl(1, '229507', 'lofar-srm.fz-juelich.de:8443/pnfs/fz-juelich.de')),
    expect: invalid(['line 2', 'juelich']),
  },
  {
    name: 'http:// link',
    file: 'http-link.txt',
    content: lines(surl(0), 'http://example.org/L229507_SB001.tar'),
    expect: invalid(['line 2', 'http://']),
  },
  {
    name: 'garbage lines among good ones',
    file: 'garbage-lines.txt',
    content: lines(...good(0, 3), 'hello world', surl(3), 'not a surl either'),
    expect: invalid(['line 4', 'line 6', '2 bad lines']),
  },
  { name: 'empty file', file: 'empty.txt', content: '', expect: invalid(['holds no SURLs']) },
  {
    name: 'comments and blank lines only',
    file: 'comments-only.txt',
    content: lines('# SURLs of L229507', '', '   ', '# none yet'),
    expect: invalid(['holds no SURLs']),
  },
  {
    name: 'two different links on one line',
    file: 'two-links.txt',
    content: lines(`${surl(0)} ${surl(1)}`),
    expect: invalid(['line 1', '2 different links']),
  },
  {
    name: 'SURL without a host',
    file: 'no-host.txt',
    content: lines(surl(0), 'srm:///pnfs/grid.sara.nl/data/lofar/ops/L229507_SB001_uv.dppp.MS_3d78b8f1.tar'),
    expect: invalid(['line 2']),
  },
  {
    name: 'Latin-1 byte in a SURL',
    file: 'latin1.txt',
    content: Buffer.concat([
      Buffer.from(`${surl(0)}\n${surl(1).slice(0, -4)}`),
      Buffer.from([0xe9]),
      Buffer.from('.tar\n'),
    ]),
    expect: invalid(['line 2', '0xE9', 'UTF-8']),
  },
  {
    name: 'UTF-16 file (Windows export)',
    file: 'utf16.txt',
    content: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(lines(surl(0), surl(1)), 'utf16le')]),
    expect: invalid(['line 1', '0xFF', 'UTF-8']),
  },
  {
    name: 'NUL byte inside a SURL',
    file: 'nul.txt',
    content: lines(surl(0), `${surl(1).slice(0, 40)}\0${surl(1).slice(40)}`),
    expect: invalid(['line 2']),
  },
  {
    name: 'one 200 kB line of garbage',
    file: 'long-line.txt',
    content: lines(surl(0), 'x'.repeat(200_000)),
    expect: invalid(['line 2']),
  },
  {
    name: 'a directory instead of a file',
    file: 'a-directory',
    content: 'directory',
    expect: { exit: 2, code: 'E_USAGE', includes: ['is a folder: give the file in it'] },
  },
  {
    name: 'missing file',
    file: 'missing.txt',
    content: 'missing',
    expect: { exit: 5, code: 'E_NOT_FOUND', includes: ['not found'] },
  },
];

const badConfig = (includes: string[]) => ({ exit: 7, code: 'E_CONFIG', includes });

export const CONFIG_CASES: InputCase[] = [
  {
    name: 'JSON cut off mid-value',
    file: 'truncated.json',
    content: '{\n  "Token": {\n    "status": "queued",\n    "upload": {"location": ',
    expect: badConfig(['not valid JSON']),
  },
  {
    name: 'JSON with a trailing comma on line 3',
    file: 'trailing-comma.json',
    content: '{\n  "Token": {"status": "queued"},\n  "Job": {"NCPU": 4,},\n  "x": 1\n}\n',
    expect: badConfig(['not valid JSON', 'line 3']),
  },
  {
    name: 'YAML cut off inside a flow list',
    file: 'truncated.yaml',
    content: 'Token:\n  status: queued\n  variables: [1, 2\n',
    expect: badConfig(['not valid YAML']),
  },
  {
    name: 'YAML indented with a tab',
    file: 'tab.cfg',
    content: 'Token:\n\tstatus: queued\n',
    expect: badConfig(['not valid YAML', 'line 2']),
  },
  {
    name: 'YAML alias bomb (billion laughs)',
    file: 'alias-bomb.yaml',
    content: [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...'bcdefgh'.split('').map((n, i) => {
        const prev = 'abcdefgh'[i]!;
        return `${n}: &${n} [${Array(9).fill(`*${prev}`).join(',')}]`;
      }),
      'Token: {status: *h}',
      '',
    ].join('\n'),
    expect: badConfig(['not valid YAML']),
  },
  { name: 'empty JSON file', file: 'empty.json', content: '', expect: badConfig(['not valid JSON']) },
  { name: 'empty YAML file', file: 'empty.yaml', content: '# nothing\n', expect: badConfig(['empty']) },
  { name: 'a JSON list', file: 'list.json', content: '[{"Token": {}}]', expect: badConfig(['object']) },
  { name: 'a bare number', file: 'number.json', content: '42\n', expect: badConfig(['object']) },
  {
    name: 'Token is a string',
    file: 'token-string.json',
    content: '{"Token": "queued"}',
    expect: badConfig(['Token', 'string']),
  },
  {
    name: '_token_keys is a list',
    file: 'token-keys-list.json',
    content: '{"Token": {"variables": {"_token_keys": ["OBSID", "STARTSB"]}}}',
    expect: badConfig(['_token_keys', 'list']),
  },
  {
    name: '_token_keys maps to a number',
    file: 'token-keys-number.json',
    content: '{"Token": {"variables": {"_token_keys": {"$OBSID": 229507}}}}',
    expect: badConfig(['$OBSID', 'number']),
  },
  {
    name: 'YAML .nan value',
    file: 'nan.yaml',
    content: 'Token:\n  status: queued\n  weight: .nan\n',
    expect: badConfig(['weight', 'NaN']),
  },
  {
    name: 'YAML duplicate key',
    file: 'duplicate.yaml',
    content: 'Token:\n  status: queued\n  status: todo\n',
    expect: badConfig(['line 3', 'unique']),
  },
  {
    name: 'Latin-1 byte in a value',
    file: 'latin1.json',
    content: Buffer.concat([
      Buffer.from('{\n  "Token": {"OBSID": "L229507 caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}\n}\n'),
    ]),
    expect: badConfig(['line 2', '0xE9', 'UTF-8']),
  },
  {
    name: '__proto__ key',
    file: 'proto.json',
    content: '{"Token": {"__proto__": {"polluted": true}}}',
    expect: badConfig(['__proto__']),
  },
  {
    name: 'binary garbage',
    file: 'binary.cfg',
    content: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xfe]),
    expect: badConfig(['UTF-8']),
  },
  {
    name: 'a directory instead of a file',
    file: 'config-dir',
    content: 'directory',
    expect: badConfig(['directory']),
  },
  { name: 'missing file', file: 'missing.json', content: 'missing', expect: badConfig(['no such file']) },
];
