import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPilotWorld } from '../helpers/pilotWorld';

/*
 * `pilot --token ID --dry-run` promises to write nothing. A token with stage_out uploads its
 * results to the campaign's storage in a real run; a dry run must leave that storage alone (a
 * debug run next to a finished campaign would otherwise put its tarball where the real one goes)
 * and say where the real run would upload instead.
 */

const MASTER = `#!/usr/bin/env bash
set -e
mkdir -p Output
echo "result of $STARTSB" > Output/result.txt
`;

describe('pilot --dry-run and stage-out', () => {
  it('runs the payload but uploads nothing, and logs where the real run would upload', async () => {
    const results = await mkdtemp(join(tmpdir(), 'lrt-dry-results-'));
    const world = await createPilotWorld({
      type: 'dryup',
      masterScript: MASTER,
      tokens: [
        {
          id: 't_dryup_L1_SB000',
          fields: {
            OBSID: 'L1',
            STARTSB: '000',
            stage_out: true,
            upload: { location: `file://${results}`, template: 'L1_$STARTSB', gzip: false, add_date: false },
          },
        },
      ],
    });
    const before = await world.token('t_dryup_L1_SB000');
    const result = await world.startPilot([
      '--token',
      't_dryup_L1_SB000',
      '--dry-run',
      '--log-format',
      'json',
    ]);
    expect(result.exitCode, result.all).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; jobDir: string };
    expect(report.ok).toBe(true);
    expect(existsSync(join(report.jobDir, 'work', 'Output', 'result.txt'))).toBe(true);
    expect(await readdir(results)).toEqual([]);
    expect(result.stderr).toContain('dry run: results not uploaded');
    expect(result.stderr).toContain(`file://${results}/L1_000.tar`);
    expect((await world.token('t_dryup_L1_SB000'))._rev).toBe(before._rev);
  });
});
