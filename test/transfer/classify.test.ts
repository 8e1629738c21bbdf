import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  adler32FromDigest,
  classifyGfalExit,
  classifyGridStderr,
  globusUrlCopyArgs,
  gsiftpMover,
  httpMover,
  moverFor,
  parseContentRange,
  parseGfalLsLine,
  parseGfalSum,
  safeUrl,
  srmMover,
  srmToGsiftp,
  stderrTail,
} from '../../src/transfer';

// stderr of globus-url-copy 10.12 / gfal2-util 1.8 (Debian 12) against the test bed.
const EXPIRED = `error: globus_ftp_client: the server responded with an error
530 530-globus_xio: Authentication Error
530-GSS failure:
530-globus_gsi_callback_module: The certificate has expired: Credential with subject: /C=XX/O=T/CN=U/CN=1 has expired.
530-
530 End.`;
const UNMAPPED = `error: globus_ftp_client: the server responded with an error
530 530-Login incorrect. : globus_gss_assist: Gridmap lookup failure: Could not map /C=XX/O=T/CN=Other
530-
530 End.`;
const MISSING = `error: globus_ftp_client: the server responded with an error
500 500-Command failed. : globus_l_gfs_file_open failed.
500-globus_xio: Unable to open file /data/nope
500-globus_xio: System error in open: No such file or directory
500 End.`;
const REFUSED = `error: globus_xio: Unable to connect to 127.0.0.1:1
globus_xio: System error in connect: Connection refused`;
const NO_PROXY = `Error loading source credential: GSS failure:
globus_sysconfig: File does not exist: /tmp/none.pem is not a valid file`;

describe('failure classification from tool output', () => {
  it('reads globus-url-copy stderr', () => {
    expect(classifyGridStderr(EXPIRED)).toBe('auth');
    expect(classifyGridStderr(UNMAPPED)).toBe('auth');
    expect(classifyGridStderr(NO_PROXY)).toBe('auth');
    expect(classifyGridStderr(MISSING)).toBe('not-found');
    expect(classifyGridStderr(REFUSED)).toBe('other');
  });

  it('reads gfal exit codes (errno)', () => {
    expect(classifyGfalExit(2, 'gfal-sum error: 2 (No such file or directory)')).toBe('not-found');
    expect(classifyGfalExit(13, 'gfal-ls error: 13 (Permission denied) - 530 Login incorrect')).toBe('auth');
    expect(classifyGfalExit(21, 'gfal-sum error: 21 (Is a directory)')).toBe('other');
  });

  it('keeps the meaningful tail of stderr and scrubs secrets', () => {
    const tail = stderrTail(`${UNMAPPED}\ntoken=s3cr3t-value`, ['s3cr3t-value']);
    expect(tail).toContain('Could not map /C=XX/O=T/CN=Other');
    expect(tail).not.toContain('530 End.');
    expect(tail).not.toContain('s3cr3t-value');
  });

  it('redacts passwords and token query parameters from URLs', () => {
    const safe = safeUrl('https://user:pw@door.example:2880/pnfs/f?authz=MACAROON&x=1');
    expect(safe).not.toContain('pw@');
    expect(safe).not.toContain('MACAROON');
    expect(safe).toContain('x=1');
  });
});

describe('tool arguments and output parsing', () => {
  it('builds globus-url-copy arguments from the options', () => {
    expect(
      globusUrlCopyArgs('file:///a', 'gsiftp://h/b', {
        proxy: '/p.pem',
        parallel: 4,
        restartRetries: 3,
        stallTimeoutSeconds: 120,
        createDirs: true,
      }),
    ).toEqual([
      '-cred',
      '/p.pem',
      '-p',
      '4',
      '-rst',
      '-rst-retries',
      '3',
      '-stall-timeout',
      '120',
      '-cd',
      'file:///a',
      'gsiftp://h/b',
    ]);
    expect(globusUrlCopyArgs('a', 'b', {})).toEqual(['a', 'b']);
    expect(() => globusUrlCopyArgs('a', 'b', { parallel: 2.5 })).toThrow(/parallel/);
  });

  it('parses gfal-ls -l -d and gfal-sum output', () => {
    expect(
      parseGfalLsLine('-rw-r--r--   1 0     0             6 Nov 25 10:30 gsiftp://127.0.0.1:2811/x/a\t\n'),
    ).toEqual({ size: 6, isDirectory: false, modified: 'Nov 25 10:30' });
    expect(parseGfalLsLine('-rw-r--r--   1 0     0             6 Jan  2  2020 gsiftp://h/a\t')).toEqual({
      size: 6,
      isDirectory: false,
      modified: 'Jan 2 2020',
    });
    expect(parseGfalLsLine('drwxr-xr-x   1 0     0          4096 Nov 25 10:34 gsiftp://h/d\t')).toMatchObject(
      {
        size: 4096,
        isDirectory: true,
      },
    );
    expect(parseGfalLsLine('')).toBeUndefined();
    expect(parseGfalSum('gsiftp://127.0.0.1:2811/x/a 084b021f\n')).toBe('084b021f');
    expect(parseGfalSum('gsiftp://h/with space/f 84b021f')).toBe('084b021f');
  });

  it('parses Content-Range and Digest headers', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({
      kind: 'range',
      start: 100,
      end: 199,
      total: 1000,
    });
    expect(parseContentRange('bytes 5-9/*')).toEqual({ kind: 'range', start: 5, end: 9, total: undefined });
    expect(parseContentRange('bytes */1000')).toEqual({ kind: 'unsatisfied', total: 1000 });
    expect(parseContentRange('items 1-2/3')).toBeUndefined();
    expect(adler32FromDigest('md5=abc==,ADLER32=84b021f')).toBe('084b021f');
    expect(adler32FromDigest('md5=abc==')).toBeUndefined();
  });
});

describe('mover choice and srm links', () => {
  const expected = JSON.parse(
    readFileSync(join(__dirname, '../fixtures/srm/srmlist_expected.json'), 'utf8'),
  ) as { per_site_single_link: Record<string, { surl: string; gsiftp: string; gfal: string }> };

  it('rewrites SURLs (and their gfal form) to the site GridFTP door, as the Python tool did', () => {
    for (const site of Object.values(expected.per_site_single_link)) {
      expect(srmToGsiftp(site.surl)).toBe(site.gsiftp);
      expect(srmToGsiftp(site.gfal)).toBe(site.gsiftp);
    }
    expect(() => srmToGsiftp('srm://srm.example.org:8443/pnfs/x')).toThrow(/not an LTA site/);
  });

  it('takes a site door given in its place (LRT_GSIFTP_DOORS), path appended', () => {
    const sara = expected.per_site_single_link.sara!;
    const path = sara.gsiftp.replace(/^gsiftp:\/\/[^/]+/, '');
    expect(srmToGsiftp(sara.surl, { sara: 'gsiftp://127.0.0.1:2811/copy/' })).toBe(
      `gsiftp://127.0.0.1:2811/copy${path}`,
    );
    expect(srmToGsiftp(sara.surl, { juelich: 'gsiftp://x' })).toBe(sara.gsiftp);
  });

  it('chooses the mover by scheme', () => {
    expect(moverFor('gsiftp://h/x')).toBe(gsiftpMover);
    expect(moverFor('SRM://srm.grid.sara.nl:8443/pnfs/x')).toBe(srmMover);
    expect(moverFor('https://h/x')).toBe(httpMover);
    expect(() => moverFor('s3://bucket/x')).toThrow(/gsiftp:\/\/, srm:\/\/, https:\/\//);
  });
});
