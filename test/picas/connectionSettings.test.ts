import { describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import {
  describeSettings,
  parsePicasrc,
  resolvePicasSettings,
  splitUrlCredentials,
} from '../../src/picas/connectionSettings';

describe('PiCaS connection settings', () => {
  it('parses ~/.picasrc lines, ignoring comments, blanks and case of keys', () => {
    expect(
      parsePicasrc(
        '# mine\nUser = lofar\npassword=s3=cret\n\ndatabase=sksp_dev\nurl=https://picas-lofar.grid.surfsara.nl:6984\n',
      ),
    ).toEqual({
      user: 'lofar',
      password: 's3=cret',
      database: 'sksp_dev',
      url: 'https://picas-lofar.grid.surfsara.nl:6984',
    });
  });

  it('flags win over PICAS_* variables, which win over ~/.picasrc, key by key', () => {
    const settings = resolvePicasSettings({
      flags: { database: 'from_flag' },
      env: { PICAS_URL: 'http://env-host:5984/', PICAS_USR: 'envuser', PICAS_USR_PWD: 'envpw' },
      picasrc: 'user=rcuser\npassword=rcpw\ndatabase=rc_db\nurl=http://rc-host:5984\n',
    });
    expect(settings).toEqual({
      url: 'http://env-host:5984',
      database: 'from_flag',
      user: 'envuser',
      password: 'envpw',
    });
    const fromRc = resolvePicasSettings({
      picasrc: 'user=rcuser\npassword=rcpw\ndatabase=rc_db\nurl=http://rc-host:5984\n',
    });
    expect(fromRc).toEqual({
      url: 'http://rc-host:5984',
      database: 'rc_db',
      user: 'rcuser',
      password: 'rcpw',
    });
  });

  it('takes credentials out of a URL, decoded, and never shows the password in descriptions', () => {
    expect(splitUrlCredentials('https://a%40b:p%2Fw@host:6984/')).toEqual({
      url: 'https://host:6984',
      user: 'a@b',
      password: 'p/w',
    });
    const settings = resolvePicasSettings({
      env: { PICAS_URL: 'http://admin:hunter22@127.0.0.1:5984', PICAS_DB: 'db1' },
    });
    expect(settings.password).toBe('hunter22');
    expect(JSON.stringify(describeSettings(settings))).not.toContain('hunter22');
    // An explicit PICAS_USR_PWD beats the one inside the URL.
    expect(
      resolvePicasSettings({
        env: { PICAS_URL: 'http://admin:old@h:1', PICAS_DB: 'd', PICAS_USR_PWD: 'new' },
      }).password,
    ).toBe('new');
  });

  it('says what is missing or wrong, without echoing a password', () => {
    const fail = (sources: Parameters<typeof resolvePicasSettings>[0]) => {
      try {
        resolvePicasSettings(sources);
      } catch (err) {
        if (isLrtError(err, 'E_CONFIG')) return err.message;
        throw err;
      }
      throw new Error('no error');
    };
    expect(fail({ env: { PICAS_DB: 'd' } })).toContain('no PiCaS server');
    expect(fail({ env: { PICAS_URL: 'http://h:1' } })).toContain('no PiCaS database');
    expect(fail({ env: { PICAS_URL: 'http://h:1', PICAS_DB: 'Bad Name' } })).toContain(
      'invalid database name',
    );
    const badScheme = fail({ env: { PICAS_URL: 'ftp://u:topsecret@h/', PICAS_DB: 'd' } });
    expect(badScheme).toContain('http:// or https://');
    expect(badScheme).not.toContain('topsecret');
    expect(fail({ env: { PICAS_URL: 'not a url u:topsecret@', PICAS_DB: 'd' } })).not.toContain('topsecret');
  });
});
