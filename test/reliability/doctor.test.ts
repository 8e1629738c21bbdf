import { chmod, copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CHECK_NAMES } from '../../src/pilot/check';
import { selfSignedCert } from '../helpers/certs';
import { lrt, lrtProcess } from '../helpers/cli';
import { databaseFingerprint } from '../helpers/couch';
import { gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { createPilotWorld, DIST_PILOT, demoTokens, type PilotWorld } from '../helpers/pilotWorld';

/**
 * `lrt doctor` and `pilot --check` against the embedded server and the GridFTP test bed's real
 * proxies (valid, expired): one line per check, FAIL naming the cause, exit 1 when one failed,
 * and nothing written to the database while looking.
 */

const testbed = gridftpTestbed();

function lines(stdout: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const line of stdout.trim().split('\n')) {
    const [mark, name, ...rest] = line.split(/\s+/);
    byName.set(name!, `${mark} ${rest.join(' ')}`);
  }
  return byName;
}

/** Every document with its revisions: a doctor must leave them as they were. */
function state(world: PilotWorld): Promise<string> {
  return databaseFingerprint(world.db);
}

async function world(type: string, fields: Record<string, unknown> = {}) {
  return createPilotWorld({ type, tokens: demoTokens(type, 2, fields) });
}

function proxyEnv(proxy: string): Record<string, string> {
  return testbed ? { X509_USER_PROXY: proxy, X509_CERT_DIR: testbed.certDir } : {};
}

describe('lrt doctor', () => {
  it.skipIf(!testbed)('passes every check on a good setup, one line each, and changes nothing', async () => {
    const w = await world('docgood');
    const before = await state(w);
    const env = { ...w.env, ...proxyEnv(testbed!.vomsProxy) };
    const result = await lrt(
      ['doctor', '--type', 'docgood', '--expected-run', '3600', '--min-free', '1M', '--workdir', w.dir],
      { env },
    );
    expect(result.exitCode, result.stdout).toBe(0);
    const out = result.stdout.trim().split('\n');
    expect(out.map((l) => l.split(/\s+/)[1])).toEqual([...CHECK_NAMES]);
    expect(out.every((l) => l.startsWith('ok '))).toBe(true);
    const byName = lines(result.stdout);
    expect(byName.get('database')).toContain(`user ${w.db.user}`);
    expect(byName.get('database')).toContain(w.db.name);
    expect(byName.get('tokens')).toContain('2 todo');
    expect(byName.get('sandbox')).toContain(w.sandboxUrl.replace('file://', ''));
    expect(byName.get('proxy')).toContain('the run needs 1 h');
    expect(byName.get('proxy')).toMatch(/RFC 3820 proxy; VOMS \/lofar\/Role=NULL\/Capability=NULL for 2\d h/);
    expect(byName.get('disk')).toContain(w.dir);
    expect(await state(w)).toBe(before);

    const json = await lrt(['doctor', '--type', 'docgood', '--json', '--min-free', '1M'], { env });
    const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    expect(parsed.ok).toBe(true);
    expect(parsed.checks.map((c) => c.name)).toEqual([...CHECK_NAMES]);
  });

  it.skipIf(!testbed)('proxy: expired, too short for the run, readable by others, missing', async () => {
    const w = await world('docproxy');
    const loose = join(w.dir, 'loose-proxy.pem');
    await copyFile(testbed!.proxy, loose);
    await chmod(loose, 0o644);
    const cases: [string, string, string[], RegExp][] = [
      ['expired', testbed!.expiredProxy, [], /^FAIL .*expired \d+ (min|h)/],
      [
        'too short',
        testbed!.proxy,
        ['--expected-run', String(2 * 86400)],
        /^FAIL .*expires in 2\d h.*the run needs 2 d/,
      ],
      ['loose mode', loose, [], /^FAIL .*mode 644.*chmod 600/],
      ['missing', join(w.dir, 'nope.pem'), [], /^FAIL .*nope\.pem.*does not exist/],
    ];
    for (const [name, proxy, extra, expected] of cases) {
      const result = await lrt(['doctor', '--type', 'docproxy', '--min-free', '1M', ...extra], {
        env: { ...w.env, ...proxyEnv(proxy) },
      });
      expect(result.exitCode, name).toBe(1);
      const byName = lines(result.stdout);
      expect(byName.get('proxy'), name).toMatch(expected);
      expect(byName.get('database'), name).toMatch(/^ok /);
    }
  });

  it.skipIf(!testbed)(
    'proxy kinds: plain and self-signed certificates, no VOMS, legacy, VOMS too short',
    async () => {
      const w = await world('dockind');
      const pki = join(testbed!.dir, 'pki');
      const made = (name: string) => join(w.dir, name);
      // real tools make each kind from the test bed's CA and user certificate
      const plain = made('plain.pem');
      await writeFile(
        plain,
        (await readFile(join(pki, 'usercert.pem'))) + (await readFile(join(pki, 'userkey.pem'), 'utf8')),
        { mode: 0o600 },
      );
      const selfFiles = await selfSignedCert(await mkdtemp(join(w.dir, 'self-')), {
        subject: '/CN=Not A Proxy',
        days: 2,
      });
      const self = made('self.pem');
      await writeFile(
        self,
        (await readFile(selfFiles.cert, 'utf8')) + (await readFile(selfFiles.key, 'utf8')),
        { mode: 0o600 },
      );
      const fake = (out: string, extra: string[]) => fakeVomsProxy(pki, out, extra);
      await fake(made('legacy-voms.pem'), ['-proxyver', '2', '-vomslife', '24']);
      await fake(made('short-voms.pem'), ['-rfc', '-vomslife', '1']);
      const cases: [string, string, string[], number, RegExp][] = [
        [
          'plain',
          plain,
          [],
          1,
          /^FAIL .*plain\.pem is a plain certificate, not a grid proxy: run voms-proxy-init --voms lofar:\/lofar\/user --valid 168:00$/,
        ],
        [
          'self-signed',
          self,
          [],
          1,
          /^FAIL .*self\.pem is a self-signed certificate, not a grid proxy: run voms-proxy-init/,
        ],
        [
          'no VOMS',
          testbed!.proxy,
          [],
          1,
          /^FAIL .*carries no VOMS attributes: run voms-proxy-init --voms lofar:\/lofar\/user --valid 168:00$/,
        ],
        [
          'legacy with VOMS',
          made('legacy-voms.pem'),
          [],
          0,
          /^ok .*a legacy Globus proxy: services that want RFC 3820 refuse it.*VOMS \/lofar\/Role=NULL/,
        ],
        [
          'VOMS shorter than the run',
          made('short-voms.pem'),
          ['--expected-run', '7200'],
          1,
          /^FAIL the VOMS attributes of lofar in .*short-voms\.pem end in (59 min|1 h), the run needs 2 h: run voms-proxy-init/,
        ],
      ];
      for (const [name, proxy, extra, code, expected] of cases) {
        const result = await lrt(
          ['doctor', '--type', 'dockind', '--min-free', '1M', '--skip', 'tools', ...extra],
          {
            env: { ...w.env, ...proxyEnv(proxy) },
          },
        );
        const byName = lines(result.stdout);
        expect(byName.get('proxy'), name).toMatch(expected);
        expect(result.exitCode, `${name}: ${result.stdout}`).toBe(code);
      }
    },
  );

  it('tools: names the missing ones and their Debian packages', async () => {
    const w = await world('doctools');
    const bin = join(w.dir, 'onlygit');
    await mkdir(bin);
    await writeFile(join(bin, 'git'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const result = await lrt(['doctor', '--type', 'doctools', '--skip', 'proxy', '--min-free', '1M'], {
      env: { ...w.env, PATH: bin },
    });
    expect(result.exitCode).toBe(1);
    const tools = lines(result.stdout).get('tools')!;
    expect(tools).toMatch(/^FAIL /);
    expect(tools).toContain('globus-url-copy not on PATH (Debian: globus-gass-copy-progs)');
    expect(tools).toContain('gfal-copy not on PATH (Debian: gfal2-util-scripts');
    expect(tools).not.toContain('git not on PATH');
  });

  it('disk: fails below --min-free; a bad size or check name is a usage error', async () => {
    const w = await world('docdisk');
    const result = await lrt(['doctor', '--type', 'docdisk', '--skip', 'proxy', '--min-free', '1P'], {
      env: w.env,
    });
    expect(result.exitCode).toBe(1);
    expect(lines(result.stdout).get('disk')).toMatch(/^FAIL .* free in .*need 1\.0 PiB/);
    const lots = await lrt(['doctor', '--min-free', 'lots'], { env: w.env });
    expect(lots.exitCode).toBe(2);
    expect(lots.stderr).toContain('--min-free must be a size (e.g. 500M, 10G, 1T), got "lots"');
    expect((await lrt(['doctor', '--skip', 'nosuch'], { env: w.env })).exitCode).toBe(2);
  });

  it('database: wrong password and missing database fail, the checks that need it are skipped', async () => {
    const w = await world('docdb');
    const wrong = new URL(w.env.PICAS_URL!);
    wrong.password = 'not-the-password';
    const refused = await lrt(['doctor', '--type', 'docdb', '--skip', 'proxy'], {
      env: { ...w.env, PICAS_URL: wrong.toString() },
    });
    expect(refused.exitCode).toBe(1);
    const byName = lines(refused.stdout);
    expect(byName.get('database')).toMatch(/^FAIL .*refused user "admin" \(HTTP 401\)/);
    for (const name of ['views', 'tokens', 'sandbox']) expect(byName.get(name)).toMatch(/^skip /);
    expect(refused.stdout + refused.stderr).not.toContain('not-the-password');

    const missing = await lrt(['doctor', '--type', 'docdb', '--skip', 'proxy'], {
      env: { ...w.env, PICAS_DB: `${w.db.name}_absent` },
    });
    expect(lines(missing.stdout).get('database')).toMatch(/^FAIL .*_absent does not exist/);
    const res = await fetch(`${w.db.baseUrl}/${w.db.name}_absent`, {
      headers: { authorization: `Basic ${Buffer.from(`${w.db.user}:${w.db.password}`).toString('base64')}` },
    });
    expect(res.status).toBe(404);
  });

  it('views: a type without a design document, and one whose views were cleared', async () => {
    const w = await world('docviews');
    const none = await lrt(['doctor', '--type', 'otherkind', '--skip', 'proxy', '--skip', 'tools'], {
      env: w.env,
    });
    expect(none.exitCode).toBe(1);
    expect(lines(none.stdout).get('views')).toMatch(
      /^FAIL _design\/otherkind does not exist.*lrt tokens create --type otherkind/,
    );
    const ready = await lrt(['doctor', '--type', 'docviews', '--skip', 'proxy', '--skip', 'tools'], {
      env: w.env,
    });
    expect(lines(ready.stdout).get('views')).toMatch(
      /^ok .*claims read todo_spread of _design\/claim:docviews/,
    );
    expect(
      (await lrt(['views', 'clear', '--all', '--yes', '--type', 'docviews'], { env: w.env })).exitCode,
    ).toBe(0);
    const cleared = await lrt(['doctor', '--type', 'docviews', '--skip', 'proxy', '--skip', 'tools'], {
      env: w.env,
    });
    const views = lines(cleared.stdout).get('views')!;
    expect(views).toMatch(/^FAIL .*lacks todo, locked, done, error, overview_total, expired/);
  });

  it('a type without views: one FAIL (views), the checks that read those views are skipped', async () => {
    const w = await world('docnoviews');
    const result = await lrt(['doctor', '--type', 'nokind', '--skip', 'proxy', '--skip', 'tools', '--json'], {
      env: w.env,
    });
    expect(result.exitCode).toBe(1);
    const checks = JSON.parse(result.stdout).checks as {
      name: string;
      ok: boolean;
      skipped?: boolean;
      detail: string;
    }[];
    expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['views']);
    for (const name of ['tokens', 'sandbox']) {
      expect(checks.find((c) => c.name === name)).toMatchObject({
        skipped: true,
        detail: 'the views check failed',
      });
    }
  });

  it('proxy: a missing proxy file says the command that makes one', async () => {
    const w = await world('docnoproxy');
    const skips = ['--skip', 'tools', '--skip', 'views', '--skip', 'tokens', '--skip', 'sandbox'];
    const unset = await lrt(['doctor', ...skips], { env: { ...w.env, X509_USER_PROXY: undefined } });
    const given = await lrt(['doctor', ...skips], {
      env: { ...w.env, X509_USER_PROXY: join(w.dir, 'no-such-proxy') },
    });
    for (const result of [unset, given]) {
      expect(result.exitCode).toBe(1);
      expect(lines(result.stdout).get('proxy')).toMatch(
        /^FAIL .*: run voms-proxy-init --voms lofar:\/lofar\/user/,
      );
    }
  });

  it('sandbox: a missing tarball fails naming the token; a git sandbox is asked with ls-remote', async () => {
    const w = await world('docsbx', { SBXloc: 'file:///nonexistent/sandbox.tar.gz' });
    const missing = await lrt(['doctor', '--type', 'docsbx', '--skip', 'proxy', '--skip', 'tools'], {
      env: w.env,
    });
    expect(lines(missing.stdout).get('sandbox')).toMatch(/^FAIL .*t_docsbx_L1_SB00\d.*sandbox\.tar\.gz/);

    const repo = join(w.dir, 'repo');
    await execa('git', ['init', '-q', repo]);
    await execa('git', [
      '-C',
      repo,
      '-c',
      'user.email=t@example.org',
      '-c',
      'user.name=t',
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      'x',
    ]);
    const git = (url: string) => ({ 'config.json': { sandbox: { git: { url } } } });
    const good = await world('docgit', git(`file://${repo}`));
    const ok = await lrt(['doctor', '--type', 'docgit', '--skip', 'proxy', '--skip', 'tools'], {
      env: good.env,
    });
    expect(lines(ok.stdout).get('sandbox')).toMatch(/^ok git file:\/\/.*answers/);
    const bad = await world('docgitbad', git(`file://${w.dir}/no-repo`));
    const fail = await lrt(['doctor', '--type', 'docgitbad', '--skip', 'proxy', '--skip', 'tools'], {
      env: bad.env,
    });
    expect(lines(fail.stdout).get('sandbox')).toMatch(/^FAIL git file:\/\/.*no-repo/);
  });

  it.skipIf(!testbed)('sandbox on GridFTP: stat through the real tools with the proxy', async () => {
    const area = await gridftpWorkDir(testbed!);
    const w0 = await world('docftp0');
    await copyFile(w0.sandboxUrl.replace('file://', ''), join(area.path, 'sandbox.tar.gz'));
    const w = await world('docftp', { SBXloc: `${area.url}/sandbox.tar.gz` });
    const env = { ...w.env, ...proxyEnv(testbed!.proxy), GFAL_PYTHONBIN: testbed!.gfalPython };
    const ok = await lrt(['doctor', '--type', 'docftp', '--skip', 'tools', '--min-free', '1M'], { env });
    expect(lines(ok.stdout).get('sandbox')).toMatch(
      /^ok gsiftp:.*sandbox\.tar\.gz of token t_docftp_L1_SB00\d is there \(\d+ bytes\)/,
    );
  });

  it('without a type, the checks that need one are skipped, not passed', async () => {
    const w = await world('docnotype');
    const result = await lrt(['doctor', '--skip', 'proxy', '--min-free', '1M'], { env: w.env });
    expect(result.exitCode).toBe(0);
    const byName = lines(result.stdout);
    for (const name of ['views', 'tokens', 'sandbox'])
      expect(byName.get(name)).toMatch(/^skip no token type/);
  });
});

describe('pilot --check', () => {
  it('is in the help; claims nothing; exit 0 when all is well, 1 with an expired proxy', async () => {
    const help = await execa('node', [DIST_PILOT, '--help']);
    expect(help.stdout).toMatch(/--check\s+preflight/);
    const w = await world('pilotcheck');
    const before = await state(w);
    const check = (proxy: string | undefined, extra: string[] = []) =>
      w.startPilot(
        ['--check', '--walltime', '3600', '--workdir', w.dir, ...extra],
        proxy ? proxyEnv(proxy) : {},
      );
    if (testbed) {
      const good = await check(testbed.vomsProxy);
      // the disk check wants 10 GiB free by default: judge it by what statfs says, not by hope
      const diskOk = lines(good.stdout).get('disk')!.startsWith('ok');
      expect(good.exitCode, good.stdout).toBe(diskOk ? 0 : 1);
      expect(lines(good.stdout).get('proxy')).toMatch(/^ok .*the run needs 1 h/);
      const plainProxy = await check(testbed.proxy);
      expect(lines(plainProxy.stdout).get('proxy')).toMatch(
        /^FAIL .*no VOMS attributes: run voms-proxy-init --voms lofar/,
      );
      const expired = await check(testbed.expiredProxy);
      expect(expired.exitCode).toBe(1);
      expect(lines(expired.stdout).get('proxy')).toMatch(/^FAIL .*expired/);
    }
    const json = await check(undefined, ['--json']);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: { name: string }[] };
    expect(parsed.checks.map((c) => c.name)).toEqual([...CHECK_NAMES]);
    expect(await state(w)).toBe(before);
  });
});

describe('lrt doctor proxy lifetime wording', () => {
  it.skipIf(!testbed)('says 24 h of a proxy made for one day, never 23 h 60 min', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-doctor-day-proxy-'));
    // A proxy valid for one day from now: by the time doctor reads it, a few seconds less.
    const proxy = join(dir, 'proxy.pem');
    await fakeVomsProxy(join(testbed!.dir, 'pki'), proxy, ['-rfc', '-vomslife', '24']);
    const skip = ['database', 'views', 'tokens', 'sandbox', 'tools', 'disk'].flatMap((c) => ['--skip', c]);
    const res = await lrtProcess(['doctor', ...skip, '--expected-run', '3600'], { env: proxyEnv(proxy) });
    expect(res.stdout).toMatch(/^ok +proxy +\S+ valid for 24 h, the run needs 1 h/m);
    expect(res.stdout).not.toContain('60 min');
    expect(res.exitCode).toBe(0);
  });
});

/** A VOMS proxy for lofar made by voms-proxy-fake from the test bed's user and host certificates. */
function fakeVomsProxy(pki: string, out: string, extra: string[]) {
  return execa('voms-proxy-fake', [
    '-q',
    '-cert',
    join(pki, 'usercert.pem'),
    '-key',
    join(pki, 'userkey.pem'),
    '-certdir',
    testbed!.certDir,
    '-out',
    out,
    '-hours',
    '24',
    '-hostcert',
    join(pki, 'hostcert.pem'),
    '-hostkey',
    join(pki, 'hostkey.pem'),
    '-voms',
    'lofar',
    '-fqan',
    '/lofar/Role=NULL/Capability=NULL',
    '-uri',
    'localhost:15000',
    ...extra,
  ]);
}
