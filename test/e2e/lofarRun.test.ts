import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { writeDemoSandbox } from '../../src/demo/demoSandbox';
import { getAttachment } from '../../src/picas/attachments';
import { openPicas } from '../../src/picas/client';
import type { StoredToken } from '../../src/picas/tokenDoc';
import { listTokens } from '../../src/picas/viewQuery';
import { adler32 } from '../../src/transfer';
import { lrtProcess } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { type GridftpTestbed, gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { DIST_PILOT, pilotProcessEnv } from '../helpers/pilotWorld';

/*
 * The whole LOFAR job on one node, as a user runs it: tokens from a SURL list and GRID_LRT's
 * cal_pref3.json (its image, its upload section), then three pilots at once that pull the image
 * once, stage the inputs in over gsiftp (srm:// through the site door, here the test bed), run a
 * master.sh that checks $SIMG and its inputs, and stage the results out.
 */

const testbed = gridftpTestbed();
const FIXTURE = resolve(__dirname, '../fixtures/lofarRun/cal_pref3.json');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

const MASTER = `#!/usr/bin/env bash
set -euo pipefail
test -f "$SIMG" || { echo "no image at $SIMG" >&2; exit 3; }
[ "$(md5sum < "$SIMG" | cut -d' ' -f1)" = "$SIMG_COMMIT" ] || { echo "image differs from SIMG_COMMIT" >&2; exit 4; }
test -f "$PARSET"
mkdir -p Output
n=0
while read -r surl; do
  [ -z "$surl" ] && continue
  f="Input/$(basename "$surl")"
  test -s "$f" || { echo "missing input $f" >&2; exit 5; }
  printf '%s %s %s\\n' "$(basename "$f")" "$(wc -c < "$f")" "$(md5sum < "$f" | cut -d' ' -f1)" >> Output/inputs.txt
  n=$((n+1))
done < "$SRMFILE"
echo "$OBSID $STARTSB $n $SIMG_COMMIT" > Output/result.txt
`;

const LTA_DIR = '/pnfs/grid.sara.nl/data/lofar/ops/projects/lc0_000/654321';

describe.skipIf(!testbed)('a LOFAR run end to end on the GridFTP test bed', () => {
  const bed = testbed as GridftpTestbed;
  let db: TestDatabase | undefined;
  let dir: string | undefined;
  let remote: { path: string; url: string } | undefined;
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (remote) await rm(remote.path, { recursive: true, force: true });
  });

  it('tokens from a SURL list and cal_pref3.json; 3 pilots pull the image once, stage in, run, stage out', async () => {
    db = await createTestDatabase('lrt_lofar');
    dir = await mkdtemp(join(tmpdir(), 'lrt-lofar-'));
    remote = await gridftpWorkDir(bed, 'lofar-');

    // The LTA: six subbands of L654321 at SURF, served by the test bed through a door override.
    const inputs = new Map<string, Buffer>();
    await mkdir(join(remote.path, 'lta', LTA_DIR), { recursive: true });
    const surls: string[] = [];
    for (let sb = 0; sb < 6; sb++) {
      const name = `L654321_SB00${sb}_uv.dppp.MS_${md5(Buffer.from([sb])).slice(0, 8)}.tar`;
      const bytes = randomBytes(150_000 + sb * 1000);
      inputs.set(name, bytes);
      await writeFile(join(remote.path, 'lta', LTA_DIR, name), bytes);
      surls.push(`srm://srm.grid.sara.nl:8443${LTA_DIR}/${name}`);
    }
    await writeFile(join(dir, 'srm_L654321.txt'), `${surls.join('\n')}\n`);

    // The image, named as GRID_PiCaS_Launcher fetches it over gsiftp: lofar@<SIMG_COMMIT>.sif.
    const image = randomBytes(2 * 1024 * 1024);
    const commit = md5(image);
    await mkdir(join(remote.path, 'images'));
    await writeFile(join(remote.path, 'images', `lofar@${commit}.sif`), image);

    const config = JSON.parse(await readFile(FIXTURE, 'utf8'));
    config.container.singularity = { SIMG: `${remote.url}/images/lofar.sif`, SIMG_COMMIT: commit };
    config.Job.variables.RESULTS_DIR = `${remote.url}/results`;
    delete config.sandbox; // GitHub is out of reach here: the sandbox is a tarball (SBXloc)
    await writeFile(join(dir, 'cal.json'), JSON.stringify(config, null, 2));
    const sandbox = await writeDemoSandbox(dir, MASTER);
    await writeFile(join(dir, 'cal.parset'), 'msin.datacolumn = DATA\n');
    await mkdir(join(remote.path, 'results'));

    const env = { PICAS_URL: db.serverUrl, PICAS_DB: db.name };
    const type = 'pref_cal';
    const created = await lrtProcess(
      [
        'tokens',
        'create',
        '--type',
        type,
        '--srm',
        'srm_L654321.txt',
        '--per-token',
        '2',
        '--config',
        'cal.json',
        '--set',
        `SBXloc=file://${sandbox}`,
        '--attach',
        'cal.parset:Pre-Facet-Calibrator-v3.parset',
      ],
      { env, cwd: dir },
    );
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.stdout).toContain('3 created');
    expect(created.stdout).toContain('the pilot stages in 6 file(s) for 3 token(s)');
    expect(created.stdout).toContain('the pilot stages out the results of 3 token(s)');

    const pilotEnv = {
      ...pilotProcessEnv(db, dir),
      X509_USER_PROXY: bed.proxy,
      X509_CERT_DIR: bed.certDir,
      GFAL_PYTHONBIN: bed.gfalPython,
      LRT_GSIFTP_DOORS: `sara=${remote.url}/lta`,
    };
    const workdir = join(dir, 'node');
    const pilots = await Promise.all(
      [1, 2, 3].map(() =>
        execa(
          'node',
          [DIST_PILOT, '--type', type, '--workdir', workdir, '--locality-check', 'off', '--grace', '2'],
          { env: pilotEnv, extendEnv: false, reject: false, all: true },
        ),
      ),
    );
    for (const p of pilots) expect(p.exitCode, p.all).toBe(0);

    const picas = openPicas({ url: db.baseUrl, database: db.name, user: db.user, password: db.password });
    const done = await listTokens(picas, type, 'done', { includeDocs: true });
    expect(done.map((r) => r.id).sort()).toHaveLength(3);
    const tokens = done.map((r) => r.doc as StoredToken);
    const logs = await Promise.all(
      tokens.map(async (t) => (await getAttachment(picas, t._id, 'attempt-1.pilot.log')).toString()),
    );

    // The image: pulled by one pilot, reused by the others, one file in the node cache.
    const pulls = logs.flatMap((log) =>
      log.split('\n').filter((l) => l.includes('container image ready') && l.includes('"fromCache":false')),
    );
    expect(pulls).toHaveLength(1);
    for (const log of logs) expect(log).toContain('phase pulling_container');
    const blobs = await readdir(join(workdir, '.lrt-cache', 'images', 'sha256'));
    expect(blobs).toEqual([`${createHash('sha256').update(image).digest('hex')}.sif`]);

    // The results: at the upload location, with the size and adler32 the token records.
    const seen: string[] = [];
    for (const token of tokens) {
      const location = String(token.Results_location);
      expect(location.startsWith(`${remote.url}/results/CI_pref3_cal_${token.STARTSB}_`)).toBe(true);
      const uploaded = location.slice(bed.url.length);
      const bytes = await readFile(uploaded);
      expect(token.Results_size).toBe(bytes.length);
      expect(token.Results_adler32).toBe(adler32(bytes));
      const unpacked = await mkdtemp(join(dir, 'out-'));
      await execa('tar', ['-xf', uploaded, '-C', unpacked]);
      expect(await readFile(join(unpacked, 'result.txt'), 'utf8')).toBe(
        `L654321 ${token.STARTSB} 2 ${commit}\n`,
      );
      for (const line of (await readFile(join(unpacked, 'inputs.txt'), 'utf8')).trim().split('\n')) {
        const [name, size, sum] = line.split(' ');
        const original = inputs.get(name!);
        expect(original, name).toBeDefined();
        expect(Number(size)).toBe(original!.length);
        expect(sum).toBe(md5(original!));
        seen.push(name!);
      }
    }
    expect(seen.sort()).toEqual([...inputs.keys()].sort());
  });
});
