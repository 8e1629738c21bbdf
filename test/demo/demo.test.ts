import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { DEMO_SURLS } from '../../src/demo/demoSurls';
import { DIST_LRT, lrt } from '../helpers/cli';

describe('lrt demo (the README main job)', () => {
  it('drains every token of the sliced SURL list with real pilot processes; --fail-one leaves exactly one error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-demo-test-'));
    const result = await lrt(
      ['demo', '--dir', dir, '--pilots', '3', '--per-token', '10', '--sleep', '0', '--fail-one', '--json'],
      {
        env: { PATH: process.env.PATH, HOME: dir },
      },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      tokens: number;
      counts: { done: number; error: number; todo: number; locked: number };
      failures: { token: string; message: string }[];
      processed: number;
      pilotExitCodes: number[];
      results: string[];
      resultsDir: string;
    };
    // 51 subbands from SB100 in chunks of 10: keys 100..150, as the notebook's slice_dicts.
    expect(DEMO_SURLS).toHaveLength(51);
    expect(summary.tokens).toBe(6);
    expect(summary.counts).toMatchObject({ done: 5, error: 1, todo: 0, locked: 0 });
    expect(summary.failures).toEqual([
      { token: 't_demo_L229507_SB150', message: 'master.sh exited with code 99' },
    ]);
    expect(summary.processed).toBe(5);
    expect(summary.pilotExitCodes).toEqual([0, 0, 0]);
    expect((await readdir(join(dir, 'logs'))).sort()).toEqual(['pilot-1.log', 'pilot-2.log', 'pilot-3.log']);
    // The pilots moved the data: inputs staged in from the local LTA, results staged out as tarballs.
    expect(summary.results).toEqual(
      ['100', '110', '120', '130', '140'].map((sb) => `demo_L229507_${sb}.tar.gz`),
    );
    const unpacked = await mkdtemp(join(tmpdir(), 'lrt-demo-out-'));
    await execa('tar', ['-xzf', join(summary.resultsDir, 'demo_L229507_110.tar.gz'), '-C', unpacked]);
    const staged = (await readFile(join(unpacked, 'inputs.txt'), 'utf8')).trim().split('\n');
    expect(staged).toHaveLength(10);
    expect(staged[0]).toBe('L229507_SB110_uv.dppp.MS_4e823dc4.tar 65536 bytes');
  });

  it('lrt pilot passes its arguments to the pilot (same code as dist/pilot.js)', async () => {
    const result = await lrt(['pilot', '--type']);
    expect(result.exitCode).toBe(2);
  });
});

/** Processes whose command line names `text` (read from /proc). */
function processesNaming(text: string): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    });
}

describe('Ctrl-C during lrt demo (dist/lrt.js, SIGINT to the process group as a terminal sends it)', () => {
  it('stops the pilots, gives their tokens back, prints the counts and exits 130, leaving no process behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-demo-ctrlc-'));
    const child = execa('node', [DIST_LRT, 'demo', '--dir', dir, '--pilots', '2', '--sleep', '5'], {
      env: { PATH: process.env.PATH, HOME: dir },
      extendEnv: false,
      reject: false,
      detached: true,
    });
    const log = join(dir, 'logs', 'pilot-1.log');
    const claimed = () => existsSync(log) && readFileSync(log, 'utf8').includes('"claimed"');
    for (let i = 0; i < 1500 && !claimed(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(claimed()).toBe(true);
    process.kill(-child.pid!, 'SIGINT');
    const res = await child;
    expect(res.signal, res.stderr).toBeUndefined();
    expect(res.exitCode, res.stderr).toBe(130);
    expect(res.stdout).toMatch(/^tokens 11: done 0, error 0, left 11$/m);
    expect(res.stderr).toContain(
      'interrupted: the pilots were stopped by Ctrl-C and gave their tokens back to todo; 0 done, 0 in error, 11 left',
    );
    expect(processesNaming(dir)).toEqual([]);
  });
});
