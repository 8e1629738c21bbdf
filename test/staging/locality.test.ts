import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { subbandOf } from '../../src/srm';
import {
  checkLocality,
  detectLocalityRunner,
  type FileLocality,
  gfal2PythonRunner,
  gfalXattrRunner,
  isStaged,
  summarizeLocality,
  xattrOutcome,
} from '../../src/staging';
import { MIXED, mockLinkOf } from './gfalMock';

const SURLS = readFileSync(join(__dirname, '../fixtures/staging/srm_50_sara.txt'), 'utf8')
  .split('\n')
  .filter(Boolean);

/** What MIXED says each SURL of the fixture is, computed from the subbands in the file. */
function expectedStates() {
  return SURLS.map((surl) => MIXED(subbandOf(surl)));
}

describe('isStaged', () => {
  it('is true for a copy on disk only', () => {
    expect(isStaged('ONLINE')).toBe(true);
    expect(isStaged('ONLINE_AND_NEARLINE')).toBe(true);
    expect(isStaged(' online\n')).toBe(true);
    for (const state of ['NEARLINE', 'LOST', 'UNAVAILABLE', 'NONE', '', undefined, null]) {
      expect(isStaged(state)).toBe(false);
    }
  });
});

describe('gfal-xattr answers', () => {
  it('reads a state, and gfal errors with their errno', () => {
    expect(xattrOutcome(0, 'NEARLINE\n', '')).toEqual({ state: 'NEARLINE' });
    expect(
      xattrOutcome(2, '', 'gfal-xattr error: 2 (No such file or directory) - No such file or directory\n'),
    ).toEqual({
      errno: 2,
      error: 'No such file or directory (errno 2)',
    });
    expect(xattrOutcome(1, '', 'Traceback ...\nsomething broke\n')).toEqual({ error: 'something broke' });
  });
});

function checkWith(runner: Awaited<ReturnType<typeof detectLocalityRunner>>, concurrency: number) {
  const seen: number[] = [];
  return {
    seen,
    results: checkLocality(SURLS, {
      runner,
      concurrency,
      linkOf: mockLinkOf(MIXED),
      onResult: (_r, i) => seen.push(i),
    }),
  };
}

function expectMixed(results: FileLocality[]) {
  const expected = expectedStates();
  expect(results.map((r) => r.surl)).toEqual(SURLS);
  results.forEach((r, i) => {
    const want = expected[i]!;
    if (typeof want === 'string') {
      expect(r, r.surl).toMatchObject({ state: want, staged: isStaged(want), site: 'sara' });
    } else {
      expect(r.state, r.surl).toBeUndefined();
      expect(r.error, r.surl).toMatch(/No such file or directory \(errno 2\)/);
    }
  });
  const staged = expected.filter((s) => typeof s === 'string' && isStaged(s)).length;
  const summary = summarizeLocality(results);
  expect(summary).toMatchObject({
    total: SURLS.length,
    staged,
    unknown: 1,
    notStaged: SURLS.length - staged - 1,
  });
  expect(summary.percentStaged).toBeCloseTo((100 * staged) / SURLS.length, 6);
  expect(summary.byState.ONLINE).toBe(expected.filter((s) => s === 'ONLINE').length);
}

describe('checkLocality with the real gfal tools and the mock plugin', () => {
  it('asks gfal-xattr for every SURL, in input order, with bounded concurrency', async () => {
    const { results, seen } = checkWith(gfalXattrRunner(), 6);
    expectMixed(await results);
    expect([...seen].sort((a, b) => a - b)).toEqual(SURLS.map((_, i) => i));
  });

  it('asks the gfal2 Python binding in one process and gets the same answers', async () => {
    const { results, seen } = checkWith(gfal2PythonRunner(), 4);
    expectMixed(await results);
    expect(seen).toHaveLength(SURLS.length);
  });

  it('prefers the binding when it is present', async () => {
    expect((await detectLocalityRunner('auto')).tool).toBe('gfal2-python');
    expect((await detectLocalityRunner('xattr')).tool).toBe('gfal-xattr');
  });

  it('marks unsupported sites without asking, and reports SURLs that do not parse', async () => {
    const juelich = 'srm://lofar-srm.fz-juelich.de:8443/pnfs/fz-juelich.de/data/lofar/ops/L1_SB001_uv.MS.tar';
    let asked = 0;
    const runner = gfalXattrRunner();
    const counting = {
      tool: runner.tool,
      run: (links: readonly string[], o: Parameters<typeof runner.run>[1]) => {
        asked += links.length;
        return runner.run(links, o);
      },
    };
    const results = await checkLocality([juelich, 'not a surl', SURLS[0]!], {
      runner: counting,
      linkOf: mockLinkOf(MIXED),
    });
    expect(asked).toBe(1);
    expect(results[0]).toMatchObject({ site: 'juelich', unsupported: true, staged: false });
    expect(results[0]!.error).toMatch(/not supported at juelich \(only sara, poznan/);
    expect(results[1]!.error).toMatch(/not a usable SURL/);
    expect(results[2]).toMatchObject({ state: 'ONLINE', staged: true });
    // --any-site asks anyway.
    const forced = await checkLocality([juelich], {
      runner,
      linkOf: mockLinkOf(() => 'NEARLINE'),
      anySite: true,
    });
    expect(forced[0]).toMatchObject({ state: 'NEARLINE', staged: false });
  });

  it('says which tool is missing', async () => {
    const noPath = { env: { PATH: '/nonexistent' } };
    await expect(checkLocality(SURLS.slice(0, 1), { runner: gfalXattrRunner(noPath) })).rejects.toMatchObject(
      {
        code: 'E_TOOL_MISSING',
        message: expect.stringMatching(/gfal-xattr is not installed/),
      },
    );
    await expect(
      checkLocality(SURLS.slice(0, 1), {
        runner: gfal2PythonRunner({ ...noPath, pythonBin: '/nonexistent/python3' }),
      }),
    ).rejects.toMatchObject({ code: 'E_TOOL_MISSING' });
  });
});
