import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { adler32 } from '../../src/transfer';
import { type GridftpTestbed, gridftpTestbed, gridftpWorkDir } from '../helpers/gridftp';
import { createPilotWorld } from '../helpers/pilotWorld';

const testbed = gridftpTestbed();

/** Checks its inputs and leaves a result in Output/, as a LOFAR step would. */
const MASTER = `#!/usr/bin/env bash
set -e
mkdir -p Output
for f in Input/*; do
  printf '%s %s\\n' "$(basename "$f")" "$(wc -c < "$f")" >> Output/inputs.txt
done
echo "observation $OBSID from $STARTSB" > Output/result.txt
`;

describe.skipIf(!testbed)('pilot end to end over the GSI GridFTP test bed', () => {
  const bed = testbed as GridftpTestbed;

  it('stages gsiftp inputs in (checked by adler32), runs master.sh, uploads a tar of Output/ and records where', async () => {
    const remote = await gridftpWorkDir(bed, 'pilot-');
    const names = ['L400_SB000_uv.MS.tar', 'L400_SB001_uv.MS.tar', 'L400_SB002_uv.MS.tar'];
    const sums: Record<string, string> = {};
    for (const [i, name] of names.entries()) {
      const bytes = randomBytes(300_000 + i * 1000);
      await writeFile(join(remote.path, name), bytes);
      sums[name] = adler32(bytes);
    }
    const srmTxt = `${names.map((n) => `${remote.url}/${n}`).join('\n')}\n`;
    const world = await createPilotWorld({
      type: 'grid',
      masterScript: MASTER,
      tokens: [
        {
          id: 't_grid_L400_SB000',
          fields: {
            OBSID: 'L400',
            STARTSB: '000',
            RESULTS_DIR: `${remote.url}/results`,
            stage_in: { from: 'srm.txt', checksums: sums },
            stage_out: true,
            upload: {
              location: '$RESULTS_DIR',
              template: 'L400_$STARTSB',
              gzip: true,
              overwrite: false,
              add_date: false,
            },
          },
          attachments: [{ name: 'srm.txt', contentType: 'text/plain', data: Buffer.from(srmTxt) }],
        },
      ],
    });
    const env = { X509_USER_PROXY: bed.proxy, X509_CERT_DIR: bed.certDir, GFAL_PYTHONBIN: bed.gfalPython };
    const result = await world.startPilot([], env);
    expect(result.exitCode, result.all).toBe(0);

    const token = await world.token('t_grid_L400_SB000');
    expect(token.status, JSON.stringify(token.error)).toBe('done');
    const location = String(token.Results_location);
    const { getAttachment } = await import('../../src/picas/attachments');
    const plog = (await getAttachment(world.picas, token._id, 'attempt-1.pilot.log')).toString();
    expect(location, plog).toMatch(/\/results\/L400_000\.tar\.gz$/);
    const uploaded = location.slice(bed.url.length);
    const bytes = await readFile(uploaded);
    expect(token.Results_size).toBe(bytes.length);
    expect(token.Results_adler32).toBe(adler32(bytes));

    const unpacked = await mkdtemp(join(tmpdir(), 'lrt-unpacked-'));
    await execa('tar', ['-xzf', uploaded, '-C', unpacked]);
    expect((await readdir(unpacked)).sort()).toEqual(['inputs.txt', 'result.txt']);
    const inputs = await readFile(join(unpacked, 'inputs.txt'), 'utf8');
    for (const [i, name] of names.entries()) expect(inputs).toContain(`${name} ${300_000 + i * 1000}`);
    expect(await readFile(join(unpacked, 'result.txt'), 'utf8')).toBe('observation L400 from 000\n');
  });

  it('an input that does not exist ends the token in error naming the URL (LOFAR exit 21)', async () => {
    const remote = await gridftpWorkDir(bed, 'pilot-missing-');
    const world = await createPilotWorld({
      type: 'gridmiss',
      masterScript: MASTER,
      tokens: [
        {
          id: 't_gridmiss_1',
          fields: { stage_in: { from: [`${remote.url}/nope.tar`], retries: 0 } },
        },
      ],
    });
    const env = { X509_USER_PROXY: bed.proxy, X509_CERT_DIR: bed.certDir, GFAL_PYTHONBIN: bed.gfalPython };
    const result = await world.startPilot([], env);
    expect(result.exitCode, result.all).toBe(0);
    const token = await world.token('t_gridmiss_1');
    expect(token.status).toBe('error');
    expect(token.output).toBe(21);
    const errors = token.error as { message: string; phase: string }[];
    expect(errors[0]?.phase).toBe('downloading');
    expect(errors[0]?.message).toContain('nope.tar');
  });
});
