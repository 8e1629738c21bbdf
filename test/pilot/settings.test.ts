import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { type PilotSettings, parsePilotSettings, transferOptionsFromEnv } from '../../src/pilot/settings';

const home = mkdtempSync(join(tmpdir(), 'lrt-settings-'));
const parse = (
  argv: string[],
  env: Record<string, string> = {},
  readCredentialsFile?: (p: string) => { text: string; mode: number },
) =>
  parsePilotSettings({ argv, env, home, cwd: '/work', now: 1_000_000, readCredentialsFile }) as PilotSettings;

describe('pilot settings', () => {
  it('reads the legacy DB USER PWD TYPE form verbatim, even a password that starts with a dash', () => {
    const s = parse(['sksp_dev', 'lofar', '-s3cret-', 'pref_cal1', '--url', 'http://127.0.0.1:5984']);
    expect(s.picas).toEqual({
      url: 'http://127.0.0.1:5984',
      database: 'sksp_dev',
      user: 'lofar',
      password: '-s3cret-',
    });
    expect(s.type).toBe('pref_cal1');
    expect(s.warnings.join(' ')).toContain('visible in the process list');
  });

  it('takes options, env and defaults; the URL may carry credentials', () => {
    const s = parse(['--type', 'demo', '--lease', '60', '--walltime', '3600'], {
      PICAS_URL: 'https://u:p%40w@couch.example.org:6984/',
      PICAS_DB: 'lofar',
      X509_USER_PROXY: '/tmp/x509up_u1',
    });
    expect(s.picas).toEqual({
      url: 'https://couch.example.org:6984',
      database: 'lofar',
      user: 'u',
      password: 'p@w',
    });
    expect(s.leaseSeconds).toBe(60);
    expect(s.walltimeEnd).toBe(1_000_000 + 3_600_000);
    expect(s.maxAttempts).toBe(3);
    expect(s.view).toBe('todo');
    expect(s.transfer).toEqual({ proxy: '/tmp/x509up_u1' });
  });

  it('refuses a credentials file others can read, and bad numbers, with usage errors', () => {
    const open = () =>
      parse(['--type', 't', '--credentials', '/c'], { PICAS_URL: 'http://h:1', PICAS_DB: 'd' }, () => ({
        text: 'user=a\npassword=b\n',
        mode: 0o100644,
      }));
    expect(open).toThrow(/chmod 600/);
    const closed = parse(
      ['--type', 't', '--credentials', '/c'],
      { PICAS_URL: 'http://h:1', PICAS_DB: 'd' },
      () => ({ text: 'user=a\npassword=b\n', mode: 0o100600 }),
    );
    expect(closed.picas.password).toBe('b');
    try {
      parse(['--type', 't', '--lease', 'soon'], { PICAS_URL: 'http://h:1', PICAS_DB: 'd' });
      expect.unreachable();
    } catch (err) {
      expect(isLrtError(err, 'E_USAGE')).toBe(true);
    }
    expect(() => parse(['--dry-run', '--type', 't'], { PICAS_URL: 'http://h:1', PICAS_DB: 'd' })).toThrow(
      /--token/,
    );
  });

  it('holds each number to its own bound (one declaration: the same rules as lrt submit checks)', () => {
    const env = { PICAS_URL: 'http://h:1', PICAS_DB: 'd' };
    const message = (argv: string[]) => {
      try {
        parse(['--type', 't', ...argv], env);
      } catch (err) {
        return isLrtError(err, 'E_USAGE') ? err.message : `not a usage error: ${String(err)}`;
      }
      return 'accepted';
    };
    expect(message(['--lease', '2'])).toBe('--lease must be a number of seconds >= 3, got "2"');
    expect(message(['--poll', '0'])).toBe('--poll must be a number of seconds >= 0.1, got "0"');
    expect(message(['--max-tokens', '0'])).toBe('--max-tokens must be a whole number >= 1, got "0"');
    expect(message(['--grace=-1'])).toBe('--grace must be a number of seconds >= 0, got "-1"');
    const s = parse(['--type', 't', '--grace', '0', '--max-time', '0', '--poll', '0.5'], env);
    expect([s.graceSeconds, s.maxTimeSeconds, s.pollSeconds, s.minRemainingSeconds]).toEqual([
      0, 0, 0.5, 300,
    ]);
  });

  it('maps the grid environment to transfer options and nothing else', () => {
    expect(
      transferOptionsFromEnv({ X509_CERT_DIR: '/c', BEARER_TOKEN: 'tok', GFAL_PYTHONBIN: '/p', HOME: '/h' }),
    ).toEqual({
      certDir: '/c',
      bearerToken: 'tok',
      gfalPython: '/p',
    });
  });
});

describe('LRT_GSIFTP_DOORS', () => {
  it('maps LTA sites to GridFTP doors; a malformed entry is a usage error naming it', () => {
    expect(
      transferOptionsFromEnv({ LRT_GSIFTP_DOORS: 'sara=gsiftp://h:2811/p, juelich=gsiftp://j' }).gsiftpDoors,
    ).toEqual({
      sara: 'gsiftp://h:2811/p',
      juelich: 'gsiftp://j',
    });
    let err: unknown;
    try {
      transferOptionsFromEnv({ LRT_GSIFTP_DOORS: 'sara=https://h' });
    } catch (e) {
      err = e;
    }
    expect(isLrtError(err, 'E_USAGE')).toBe(true);
    expect((err as Error).message).toContain('"sara=https://h"');
  });
});
