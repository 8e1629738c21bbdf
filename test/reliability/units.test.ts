import { describe, expect, it } from 'vitest';
import { secretsInEnv } from '../../src/cli/secrets';
import {
  decodeUtf8,
  dropPasswordsFromEnv,
  durationInWords,
  firstNonUtf8Byte,
  isLrtError,
  redactUrl,
  scrubSecrets,
} from '../../src/core';
import { describeIndexBuilds, indexBuildsOf } from '../../src/picas/indexBuild';
import { claimPatch } from '../../src/picas/protocol';
import { tokenFromDoc } from '../../src/picas/tokenDoc';
import {
  diskVerdict,
  formatCheck,
  indexBuildVerdict,
  parseSize,
  preflightPassed,
  proxyVerdict,
  toolsVerdict,
} from '../../src/pilot/check';
import { tokenShapeProblems } from '../../src/pilot/tokenShape';

/** The pure pieces behind the corpus, secrets and doctor tests. */

describe('redaction of URL passwords', () => {
  it.each([
    ['http://admin:Pw/x-SECRET@127.0.0.1:1/', 'http://admin:***@127.0.0.1:1/'],
    ['http://admin:p@ss@h:5984', 'http://admin:***@h:5984'],
    ['http//admin:a:b/c@host', 'http//admin:***@host'],
    ['see http://:only-pw@h/db now', 'see http://:***@h/db now'],
  ])('%s', (text, expected) => {
    expect(scrubSecrets(text, [])).toBe(expected);
  });

  it('leaves URLs without credentials alone, and scrubs given secrets in any text', () => {
    const plain = 'cannot reach http://127.0.0.1:5984/db: connect ECONNREFUSED 127.0.0.1:5984';
    expect(scrubSecrets(plain, [])).toBe(plain);
    expect(redactUrl('https://u:p%2Fq@h/x')).toBe('https://u:***@h/x');
    expect(scrubSecrets('pw is s3cr3t/x and s3cr3t%2Fx', ['s3cr3t/x'])).toBe('pw is *** and ***');
  });

  it('takes the PiCaS password out of an environment, and only that', () => {
    const env: Record<string, string | undefined> = {
      PICAS_URL: 'https://admin:Pw/x@picas.example.org:6984/',
      PICAS_USR_PWD: 'pw',
      PICAS_USR: 'admin',
      X509_USER_PROXY: '/tmp/x509up_u1',
    };
    dropPasswordsFromEnv(env);
    expect(env).toEqual({
      PICAS_URL: 'https://picas.example.org:6984/',
      PICAS_USR: 'admin',
      X509_USER_PROXY: '/tmp/x509up_u1',
    });
  });

  it('finds the passwords an environment gives, even in a URL too broken to parse', () => {
    expect(
      secretsInEnv({
        PICAS_URL: 'http://admin:Pw/7c1e9b@host:5984',
        PICAS_USR_PWD: 'other',
        LTA_STAGER_URL: 'https://u:st%40ger@lta',
      }),
    ).toEqual(['other', 'Pw/7c1e9b', 'Pw/7c1e9b', 'st%40ger', 'st@ger']);
    expect(secretsInEnv({ PICAS_URL: 'http://host:5984' })).toEqual([]);
  });
});

describe('strict UTF-8', () => {
  it.each([
    ['Latin-1 é', [0x61, 0x0a, 0x62, 0xe9, 0x22], { line: 2, byte: 2, value: 0xe9 }],
    ['truncated sequence at the end', [0x61, 0xe2, 0x82], { line: 1, byte: 2, value: 0xe2 }],
    ['overlong /', [0xc0, 0xaf], { line: 1, byte: 1, value: 0xc0 }],
    ['UTF-16 surrogate', [0x41, 0xed, 0xa0, 0x80], { line: 1, byte: 2, value: 0xed }],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], { line: 1, byte: 1, value: 0xf4 }],
  ])('%s', (_, bytes, expected) => {
    expect(firstNonUtf8Byte(Uint8Array.from(bytes))).toEqual(expected);
  });

  it('passes UTF-8 (BOM dropped, 4-byte characters kept) and names file, line and byte otherwise', () => {
    expect(decodeUtf8(Buffer.from('\uFEFFsrm://x 😀\n'), 'f', 'E_SURL_LIST')).toBe('srm://x 😀\n');
    try {
      decodeUtf8(Buffer.from([0x61, 0x0a, 0xff]), 'list.txt', 'E_SURL_LIST');
      expect.unreachable();
    } catch (err) {
      expect(isLrtError(err, 'E_SURL_LIST')).toBe(true);
      expect((err as Error).message).toBe(
        'list.txt line 2: byte 1 (0xFF) is not UTF-8; save the file as UTF-8',
      );
    }
  });
});

describe('token shape', () => {
  const token = (fields: Record<string, unknown>) =>
    tokenFromDoc({ _id: 't', type: 'x', lock: 0, done: 0, ...fields });

  it('accepts what the pilot can act on', () => {
    expect(
      tokenShapeProblems(
        token({
          'config.json': JSON.stringify({ variables: { _token_keys: { $A: 'a' }, _attachments: {} } }),
          SBXloc: 'sandbox.tar',
          timeout_s: 0,
          lease_s: 600,
        }),
      ),
    ).toEqual([]);
    expect(tokenShapeProblems(token({ 'config.json': null, timeout_s: null }))).toEqual([]);
  });

  it('names every malformed field at once', () => {
    expect(
      tokenShapeProblems(
        token({ 'config.json': { variables: { _token_keys: [] }, sandbox: 'git' }, SBXloc: '', lease_s: -1 }),
      ),
    ).toEqual([
      'config.json.variables._token_keys must be an object, got a list',
      'config.json.sandbox must be an object, got string "git"',
      'SBXloc must be a sandbox URL or path, got string ""',
      'lease_s must be a number of seconds >= 0, got number -1',
    ]);
  });
});

describe('claimable as the views compare (==)', () => {
  const input = { leaseId: 'l', pilot: 'p', host: 'h', jobIds: {}, now: 100, leaseSeconds: 60 };
  it.each([[''], [false], ['00'], [[]]])('lock %j is free', (lock) => {
    expect(
      claimPatch(tokenFromDoc({ _id: 't', type: 'x', lock: lock as unknown as number, done: 0 }), input),
    ).toHaveProperty('doc');
  });
  it.each([[null], ['yes'], [true]])('lock %j is not', (lock) => {
    expect(
      claimPatch(tokenFromDoc({ _id: 't', type: 'x', lock: lock as unknown as number, done: 0 }), input),
    ).toHaveProperty('skip');
  });
});

describe('preflight verdicts', () => {
  it('words durations and sizes', () => {
    expect([45, 300, 7200, 7260, 200_000].map(durationInWords)).toEqual([
      '45 s',
      '5 min',
      '2 h',
      '2 h 1 min',
      '2 d 8 h', // 55.6 h
    ]);
    // Rounded once: a minute short of the hour, or seconds short of a day, is the whole unit.
    expect([3599, 86_399, 86_370, 5 * 86_400 - 1].map(durationInWords)).toEqual([
      '1 h',
      '24 h',
      '24 h',
      '5 d',
    ]);
    expect(['4096', '500M', '10G', '1.5T', '2GiB'].map((size) => parseSize(size, '--min-free'))).toEqual([
      4096,
      500 * 1024 ** 2,
      10 * 1024 ** 3,
      1.5 * 1024 ** 4,
      2 * 1024 ** 3,
    ]);
    expect(() => parseSize('lots', '--min-free')).toThrow(
      '--min-free must be a size (e.g. 500M, 10G, 1T), got "lots"',
    );
  });

  it('compares the proxy lifetime with the run', () => {
    expect(proxyVerdict('/p', 300, 7200)).toEqual({
      ok: false,
      detail:
        '/p expires in 5 min, the run needs 2 h: run voms-proxy-init --voms lofar:/lofar/user --valid 168:00',
    });
    expect(proxyVerdict('/p', 86_400, 7200)).toMatchObject({ ok: true });
    expect(proxyVerdict('/p', -3600, undefined)).toMatchObject({
      ok: false,
      detail: expect.stringContaining('expired 1 h ago'),
    });
    expect(proxyVerdict('/p', 60, undefined)).toMatchObject({
      ok: true,
      detail: expect.stringContaining('no walltime'),
    });
  });

  it('disk, tools, lines and the verdict of a run', () => {
    expect(diskVerdict('/w', 1000, 2048)).toEqual({ ok: false, detail: '1000 B free in /w (need 2.0 KiB)' });
    const tools = toolsVerdict({ git: '/usr/bin/git', 'gfal-copy': undefined });
    expect(tools.ok).toBe(false);
    expect(tools.detail).toBe(
      'gfal-copy not on PATH (Debian: gfal2-util-scripts python3-gfal2-util gfal2-plugin-gridftp)',
    );
    expect(formatCheck({ name: 'proxy', ok: false, detail: 'x' })).toBe('FAIL proxy     x');
    expect(formatCheck({ name: 'sandbox', ok: true, skipped: true, detail: 'y' })).toBe('skip sandbox   y');
    expect(preflightPassed([{ name: 'a', ok: true, skipped: true, detail: '' }])).toBe(true);
    expect(preflightPassed([{ name: 'a', ok: false, detail: '' }])).toBe(false);
  });

  it('a view index being built: what /_active_tasks shows, and when it is not a failure', () => {
    const db = 'lofar';
    const tasks = [
      {
        type: 'indexer',
        database: `shards/00000000-7fffffff/${db}.1765000000`,
        design_document: '_design/t',
      },
      {
        type: 'indexer',
        database: `shards/80000000-ffffffff/${db}.1765000000`,
        design_document: '_design/t',
      },
      { type: 'indexer', database: 'other', design_document: '_design/t', changes_done: 9, total_changes: 9 },
      { type: 'replication', database: db },
    ].map((t, i) => ({
      ...t,
      changes_done: t.changes_done ?? 10 * (i + 1),
      total_changes: t.total_changes ?? 100,
    }));
    const found = indexBuildsOf(tasks, db);
    expect(found).toEqual({
      builds: [{ designDoc: '_design/t', changesDone: 30, totalChanges: 200 }],
      source: 'active_tasks',
    });
    expect(describeIndexBuilds(found)).toBe('_design/t: 30 of 200 changes indexed (15%)');
    expect(describeIndexBuilds(indexBuildsOf('refused', db))).toMatch(/is for server admins/);
    expect(describeIndexBuilds(indexBuildsOf([], db))).toMatch(/lists no build/);
    // The server said "timeout": a build, whatever /_active_tasks shows.
    expect(indexBuildVerdict('views', indexBuildsOf('refused', db), true)).toMatchObject({
      ok: true,
      detail: expect.stringContaining('not an error of your database'),
    });
    expect(indexBuildVerdict('tokens', found, true)).toMatchObject({ ok: true, skipped: true });
    // A read held past the check's time: a build only when /_active_tasks lists one.
    expect(indexBuildVerdict('views', indexBuildsOf([], db), false)).toBeUndefined();
    expect(indexBuildVerdict('views', found, false)?.detail).toContain(
      'the view read is held while it builds',
    );
  });
});
