import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  credentialLayers,
  DEFAULT_STAGER_URL,
  parseEnvironmentCfg,
  parseStagingrc,
  readCredentialFiles,
  resolveCredentials,
  resolveStagerSettings,
} from '../../src/staging';

// The formats docs/lta-sites.md describes: AWE's Environment.cfg and GRID_LRT's .stagingrc.
const ENVIRONMENT_CFG = [
  '[global]',
  'database_engine : oracle',
  'database_user : awe_user',
  'database_password : pw:with=separators',
  'database_name : db.lofar.target.rug.nl',
].join('\n');
const STAGINGRC = '# LTA account\nuser=rc_user\npassword = rc pass=1\n';

describe('credential files', () => {
  it('parses Environment.cfg, keeping separators inside the password', () => {
    expect(parseEnvironmentCfg(ENVIRONMENT_CFG)).toEqual({
      user: 'awe_user',
      password: 'pw:with=separators',
    });
    expect(parseEnvironmentCfg('database_user=eq_user\r\ndatabase_password=x\r\n')).toEqual({
      user: 'eq_user',
      password: 'x',
    });
    expect(parseEnvironmentCfg('database_host : h\n')).toEqual({});
  });

  it('parses .stagingrc', () => {
    expect(parseStagingrc(STAGINGRC)).toEqual({ user: 'rc_user', password: 'rc pass=1' });
    expect(parseStagingrc('user=\npassword=\n')).toEqual({});
  });

  it('reads both files from a home directory, and nothing when they are absent', async () => {
    const home = await mkdtemp(join(tmpdir(), 'lrt-staging-home-'));
    try {
      expect(await readCredentialFiles(home)).toEqual({});
      await mkdir(join(home, '.awe'));
      await writeFile(join(home, '.awe', 'Environment.cfg'), ENVIRONMENT_CFG);
      await writeFile(join(home, '.stagingrc'), STAGINGRC);
      expect(await readCredentialFiles(home)).toEqual({
        environmentCfg: ENVIRONMENT_CFG,
        stagingrc: STAGINGRC,
      });
      await rm(join(home, '.stagingrc'));
      await mkdir(join(home, '.stagingrc'));
      await expect(readCredentialFiles(home)).rejects.toThrow(
        /^cannot read ~\/\.stagingrc: it is a directory$/,
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('credential resolution', () => {
  const env = { LOFAR_LTA_USER: 'env_user', LOFAR_LTA_PWD: 'env-pw' };

  it('takes flags, then the environment, then Environment.cfg, then .stagingrc', () => {
    const all = { env, environmentCfg: ENVIRONMENT_CFG, stagingrc: STAGINGRC };
    expect(resolveCredentials(credentialLayers(all))).toEqual({
      user: 'env_user',
      password: 'env-pw',
      source: 'LOFAR_LTA_USER/LOFAR_LTA_PWD',
    });
    expect(
      resolveCredentials(credentialLayers({ environmentCfg: ENVIRONMENT_CFG, stagingrc: STAGINGRC })),
    ).toMatchObject({
      user: 'awe_user',
      password: 'pw:with=separators',
      source: '~/.awe/Environment.cfg',
    });
    expect(resolveCredentials(credentialLayers({ stagingrc: STAGINGRC }))).toMatchObject({ user: 'rc_user' });
  });

  it('never lends one user password to another user', () => {
    // --lta-user rc_user: the environment's password belongs to env_user, so .stagingrc's is used.
    const creds = resolveCredentials(
      credentialLayers({ flags: { user: 'rc_user' }, env, stagingrc: STAGINGRC }),
    );
    expect(creds).toEqual({ user: 'rc_user', password: 'rc pass=1', source: '--lta-user + ~/.stagingrc' });
    // A password alone in the environment goes with whatever user is named.
    expect(
      resolveCredentials(credentialLayers({ flags: { user: 'x' }, env: { LOFAR_LTA_PWD: 'p' } })).password,
    ).toBe('p');
    expect(() => resolveCredentials(credentialLayers({ flags: { user: 'nobody' }, env }))).toThrow(
      /no LTA password for user "nobody" \(from --lta-user\)/,
    );
  });

  it('says where to put credentials when there are none', () => {
    expect(() => resolveCredentials(credentialLayers({}))).toThrow(
      /no LTA account for the stager: set LOFAR_LTA_USER and LOFAR_LTA_PWD, or put database_user \/ database_password in ~\/\.awe\/Environment\.cfg, or user= \/ password= in ~\/\.stagingrc/,
    );
  });
});

describe('stager endpoint', () => {
  const env = { LOFAR_LTA_USER: 'u', LOFAR_LTA_PWD: 'secret-pw' };

  it('defaults to the public endpoint; LTA_STAGER_URL and --stager-url override it', () => {
    expect(resolveStagerSettings({ env }).url).toBe(DEFAULT_STAGER_URL);
    expect(resolveStagerSettings({ env: { ...env, LTA_STAGER_URL: 'http://127.0.0.1:9/x' } }).url).toBe(
      'http://127.0.0.1:9/x',
    );
    expect(
      resolveStagerSettings({
        flags: { url: 'https://other/xmlrpc' },
        env: { ...env, LTA_STAGER_URL: 'http://a/' },
      }).url,
    ).toBe('https://other/xmlrpc');
  });

  it('refuses an endpoint with credentials in it without echoing the password', () => {
    let message = '';
    try {
      resolveStagerSettings({ flags: { url: 'https://u:hunter22@webportal.astron.nl/x' }, env });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/holds credentials/);
    expect(message).not.toContain('hunter22');
    expect(() => resolveStagerSettings({ flags: { url: 'ftp://x/' }, env })).toThrow(/must be https/);
  });
});
