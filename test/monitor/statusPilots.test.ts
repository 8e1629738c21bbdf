import { describe, expect, it } from 'vitest';
import { lrtProcess } from '../helpers/cli';
import { createPilotWorld, demoTokens } from '../helpers/pilotWorld';

/*
 * `lrt status` after real pilots (dist/pilot.js) ran: every phase they went through with its
 * median time, and a failing token with its exit-code meaning and the end of its stderr.
 */

describe('lrt status after real pilots', () => {
  it('shows every phase the pilots recorded, and why a token failed', async () => {
    const world = await createPilotWorld({ type: 'phased', tokens: demoTokens('phased', 4) });
    const result = await world.startPilot([], { DEMO_SLEEP: '0.3', DEMO_FAIL_SB: '003' });
    expect(result.exitCode, result.all).toBe(0);

    const done = await world.token('t_phased_L1_SB000');
    const phases = (done.attempts as { phases?: Record<string, number> }[])[0]!.phases!;
    expect(Object.keys(phases)).toEqual(['sandbox', 'inputs', 'running']);
    // master.sh sleeps 0.3 s per file: the running phase holds at least that.
    expect(phases.running).toBeGreaterThanOrEqual(0.3);

    const env = { PICAS_URL: world.env.PICAS_URL, PICAS_DB: world.db.name };
    const res = await lrtProcess(['status', '--type', 'phased'], { env });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^Median time per phase: sandbox [\d.]+s, inputs [\d.]+s, running [\d.]+s$/m);
    expect(res.stdout).not.toMatch(/Median time per phase: locked/);
    expect(res.stdout).toMatch(
      /t_phased_L1_SB003 +\[running, exit 99 \(pipeline failure\), 1 attempt\] +master\.sh exited with code 99\n +stderr\| demo failure requested for subband 003/,
    );

    const report = JSON.parse((await lrtProcess(['status', '--type', 'phased', '--json'], { env })).stdout);
    expect(report.phases.map((p: { phase: string }) => p.phase)).toEqual(['sandbox', 'inputs', 'running']);
    expect(report.phases.find((p: { phase: string }) => p.phase === 'running').n).toBe(3);
  });
});
