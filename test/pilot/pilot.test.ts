import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { getAttachment, listAttachments } from '../../src/picas/attachments';
import { logAttachmentName } from '../../src/picas/logNames';
import { tokenOverview } from '../../src/picas/viewQuery';
import { createPilotWorld, DIST_PILOT, demoTokens } from '../helpers/pilotWorld';

describe('dist/pilot.js', () => {
  it('runs with plain node from an empty directory, without node_modules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-bare-'));
    await cp(DIST_PILOT, join(dir, 'pilot.js'));
    const help = await execa('node', ['pilot.js', '--help'], {
      cwd: dir,
      env: { PATH: process.env.PATH },
      extendEnv: false,
    });
    expect(help.stdout).toContain('Usage: node pilot.js');
    expect(help.stdout).toContain('section "Data movement"');
    for (const option of [
      '--lease',
      '--max-attempts',
      '--token-timeout',
      '--walltime',
      '--dry-run',
      '--cache',
      '--credentials',
    ]) {
      expect(help.stdout).toContain(option);
    }
    expect(help.stdout).toMatch(/Exit codes:.*143/s);
    const usage = await execa('node', ['pilot.js', '--bogus'], {
      cwd: dir,
      reject: false,
      env: { PATH: process.env.PATH },
      extendEnv: false,
    });
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain('--bogus');
  });

  it('8 pilot processes drain 200 tokens: each processed exactly once, every pilot exits 0', async () => {
    const type = 'eight';
    const world = await createPilotWorld({ type, tokens: demoTokens(type, 200) });
    const pilots = Array.from({ length: 8 }, (_, i) => world.startPilot([], world.nodeEnv(i)));
    const results = await Promise.all(pilots);
    for (const result of results) expect(result.exitCode, result.all).toBe(0);

    const ledger = await world.ledgerLines();
    expect(ledger).toHaveLength(200);
    expect(new Set(ledger).size).toBe(200);
    const overview = await tokenOverview(world.picas, type);
    expect(overview.done).toBe(200);
    expect(overview.todo ?? 0).toBe(0);
    expect(overview.locked ?? 0).toBe(0);

    const token = await world.token(`t_${type}_L1_SB007`);
    expect(token.status).toBe('done');
    expect(token.output).toBe(0);
    expect(token.exit_code).toBe(0);
    expect(token.lease).toBeUndefined();
    const attempts = token.attempts as { n: number; exit?: number }[];
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.exit).toBe(0);
    const stdout = await getAttachment(world.picas, token._id, logAttachmentName(1, 'stdout'));
    expect(stdout.toString()).toContain(`token ${token._id}`);
    const names = (await listAttachments(world.picas, token._id)).map((a) => a.name).sort();
    expect(names).toEqual(['attempt-1.pilot.log', 'attempt-1.stderr.log', 'attempt-1.stdout.log', 'srm.txt']);
  });
});
