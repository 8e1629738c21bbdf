import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPayload } from '../../src/pilot/payload';
import { groupAlive } from '../../src/pilot/terminate';
import { createPilotWorld, demoTokens, waitFor } from '../helpers/pilotWorld';
import { groupGoneAt } from './support/leaseWorld';

/** Sleeps 6 s in a child, then appends the token to the ledger: the late finish a kill -9 must prevent. */
const LATE_FINISHER = `#!/usr/bin/env bash
sleep 6 &
echo $$ > "$DEMO_MARK.pid"
wait
echo "$TOKEN" >> "$DEMO_LEDGER"
`;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Pids of the payload watchdogs watching group `pgid` (payloadWatchdog.ts names itself in argv). */
function watchdogsOf(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.includes('lrt-payload-watchdog') && argv.includes(String(pgid));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('a payload never outlives its pilot', () => {
  it('pilot killed with SIGKILL mid-payload: the payload group is gone within seconds, it never finishes', async () => {
    const world = await createPilotWorld({
      type: 'orphan',
      tokens: demoTokens('orphan', 1),
      masterScript: LATE_FINISHER,
    });
    const mark = join(world.dir, 'mark');
    // A long lease: nothing else (no reclaim) is in play.
    const pilot = world.startPilot(['--lease', '60'], { DEMO_MARK: mark });
    const pgid = await waitFor(
      async () =>
        existsSync(`${mark}.pid`) ? Number((await readFile(`${mark}.pid`, 'utf8')).trim()) : undefined,
      30_000,
      'payload start',
    );
    expect(groupAlive(pgid)).toBe(true);
    // The pilot spawns the watchdog right after the payload; on a loaded machine master.sh can
    // write its pid before that second spawn has run (seen once in CI).
    await waitFor(
      async () => (watchdogsOf(pgid).length === 1 ? true : undefined),
      5_000,
      'the payload watchdog',
    );

    pilot.kill('SIGKILL');
    const killedAt = Date.now();
    await pilot;
    // Every process of the group, the sleeping child included (--grace 2: KILL at most 2 s after TERM).
    const goneAt = await groupGoneAt(pgid, 10_000);
    expect(goneAt - killedAt).toBeLessThan(3000);

    // Past the moment the payload would have finished: no ledger line, ever.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, killedAt + 7000 - Date.now())));
    expect(await world.ledgerLines()).toEqual([]);
    await waitFor(
      async () => (watchdogsOf(pgid).length === 0 ? true : undefined),
      10_000,
      'the watchdog to exit',
    );
  }, 60_000);

  it('a payload that ends normally leaves no watchdog behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lrt-watchdog-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'master.sh'), 'echo $$ > pid\n');
    const result = await runPayload({
      command: ['bash', 'master.sh'],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdoutFile: join(dir, 'stdout.log'),
      stderrFile: join(dir, 'stderr.log'),
      statusFile: join(dir, 'status'),
      graceMs: 5000,
    });
    expect(result).toMatchObject({ reason: 'exited', exitCode: 0 });
    expect(result.straysStopped).toBeUndefined();
    expect(watchdogsOf(Number(readFileSync(join(dir, 'pid'), 'utf8').trim()))).toEqual([]);
  });
});
