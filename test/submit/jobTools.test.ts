import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  countStates,
  jdlDescription,
  parseArcJobIds,
  parseArcStatus,
  parseClassAd,
  parseDiracStatus,
  parseGliteStatus,
  parseJobIds,
  parseSacct,
  parseSqueue,
  readSubmission,
} from '../../src/submit';

/** Output of the real tools as published (test/fixtures/submit/tools/SOURCES.md). */
const fixture = (name: string) => readFile(resolve(__dirname, '../fixtures/submit/tools', name), 'utf8');

describe('job ids from the submission tools', () => {
  it('gLite: the job URL after "Your job identifier is:", never the WMProxy endpoint', async () => {
    expect(parseJobIds('glite-wms-job-submit', await fixture('glite-submit-surf.txt'))).toEqual([
      'https://wms2.grid.sara.nl:9000/JIVYfkMxtnRFWweGsx0XAA',
    ]);
    expect(parseJobIds('glite-wms-job-submit', await fixture('glite-submit-plgrid.txt'))).toEqual([
      'https://lb02.grid.cyf-kr.edu.pl:9000/VdIE_cHwTo8qWRZFa69R5Q',
    ]);
    // without the marker (a failed submission) there is no id, not the endpoint
    expect(
      parseJobIds(
        'glite-wms-job-submit',
        'Connecting to the service https://wms2.grid.sara.nl:7443/glite_wms_wmproxy_server\n',
      ),
    ).toEqual([]);
  });

  it('DIRAC: one id, or the list of a parametric job', async () => {
    expect(parseJobIds('dirac-wms-job-submit', await fixture('dirac-submit-single.txt'))).toEqual([
      '23844073',
    ]);
    expect(parseJobIds('dirac-wms-job-submit', await fixture('dirac-submit-parametric.txt'))).toEqual([
      '1047',
      '1048',
      '1049',
      '1050',
      '1051',
    ]);
  });

  it('ARC: the jobid line, past the ERROR noise arcsub may print', async () => {
    expect(parseArcJobIds(await fixture('arc-submit-fgi.txt'))).toEqual([
      'gsiftp://celaeno-grid.lut.fi:2811/jobs/3008913401883521090110523',
    ]);
  });
});

describe('job states from the status tools', () => {
  it('gLite: a parametric parent and its three nodes', async () => {
    const jobs = parseGliteStatus(await fixture('glite-status-parametric.txt'));
    expect(jobs.map((j) => [j.id.split('/').at(-1), j.state, j.parent ?? false])).toEqual([
      ['3ii77P1aSSTKue-MkT_y9g', 'running', true],
      ['0OZYR142AXspdm807L6YWA', 'running', false],
      ['9uO8Hp6H3qCBAK3abx7G4A', 'running', false],
      ['CVYq7F6lqokBvJvsfU4ELw', 'running', false],
    ]);
    expect(jobs[1]!.detail).toBe('Running; ce.lsg.bcbr.uu.nl:8443/cream-pbs-express');
    expect(countStates(jobs)).toMatchObject({ running: 3 });
  });

  it('gLite: one job; Done(Success), Done(Exit Code !=0) and Aborted read right', async () => {
    const [job] = parseGliteStatus(await fixture('glite-status-single.txt'));
    expect(job).toMatchObject({
      id: 'https://wms.c4.csir.co.za:9000/4bffUoNCtvL7q2KRptJSFA',
      state: 'running',
    });
    expect(job!.parent).toBeUndefined();
    const states = [
      'Done(Success)',
      'Done(Exit Code !=0)',
      'Aborted',
      'Scheduled',
      'Cancelled',
      'Cleared',
    ].map(
      (s) =>
        parseGliteStatus(`Status info for the Job : https://x:9000/a\nCurrent Status:     ${s}\n`)[0]!.state,
    );
    expect(states).toEqual(['done', 'failed', 'failed', 'pending', 'cancelled', 'done']);
  });

  it('DIRAC: fields in any order, per job', async () => {
    expect(
      parseDiracStatus(await fixture('dirac-status-parametric.txt')).map((j) => [j.id, j.state, j.detail]),
    ).toEqual([
      ['82', 'running', 'Running; Running; GRID.SURF.nl'],
      ['83', 'running', 'Running; Running; GRID.NIKHEF.nl'],
      ['84', 'running', 'Running; Running; GRID.SURF.nl'],
      ['85', 'running', 'Running; Running; GRID.NIKHEF.nl'],
    ]);
    expect(parseDiracStatus(await fixture('dirac-status-egi.txt'))).toEqual([
      { id: '23844073', state: 'done', detail: 'Done; Execution Complete; EGI.HG-08-Okeanos.gr' },
    ]);
    expect(parseDiracStatus(await fixture('dirac-status-waiting.txt'))).toEqual([
      { id: '1', state: 'pending', detail: 'Waiting; Pilot Agent Submission; ANY' },
    ]);
  });

  it('ARC: blocks per job, the exit code, and fields run together on one line', async () => {
    expect(parseArcStatus(await fixture('arc-status-arnes.txt'))).toEqual([
      {
        id: 'gsiftp://jost.arnes.si:2811/jobs/SAVLDmDkUAonmmR0Xox1SiGmABFKDmABFKDmuZFKDmABFKDmPIfaUm',
        state: 'done',
        detail: 'Finished exit 0',
      },
    ]);
    expect(parseArcStatus(await fixture('arc-status-fgi-queuing.txt'))).toEqual([
      {
        id: 'gsiftp://celaeno-grid.lut.fi:2811/jobs/3008913401883521090110523',
        state: 'pending',
        detail: 'Queuing (INLRMS:E)',
      },
    ]);
  });

  it('Slurm: squeue array tasks and sacct lines', () => {
    expect(
      parseSqueue(
        '12_1|COMPLETED|0:03|vm\n12_2|RUNNING|0:01|vm\n12_[3-4%1]|PENDING|0:00|(JobArrayTaskLimit)\n',
      ),
    ).toEqual([
      { id: '12_1', state: 'done', detail: 'COMPLETED 0:03 vm' },
      { id: '12_2', state: 'running', detail: 'RUNNING 0:01 vm' },
      { id: '12_[3-4%1]', state: 'pending', detail: 'PENDING 0:00 (JobArrayTaskLimit)' },
    ]);
    expect(parseSacct('12_1|CANCELLED by 0|0:15\n12_2|TIMEOUT|0:0\n')).toEqual([
      { id: '12_1', state: 'cancelled', detail: 'CANCELLED by 0 exit 0:15' },
      { id: '12_2', state: 'failed', detail: 'TIMEOUT exit 0:0' },
    ]);
  });
});

describe('JDL flavours', () => {
  const base = {
    count: 5,
    cpus: 4,
    wholeNode: true,
    launch: {
      url: 'https://couch.example.org:6984',
      database: 'db',
      type: 'pref_cal1',
      credentialsFile: 'picas-credentials',
    },
    inputSandbox: {
      startScript: '/j/lrt-pilot.sh',
      pilot: '/j/pilot.js',
      credentials: '/j/picas-credentials',
    },
  };

  it('gLite: JobType Parametric, CPUNumber, SmpGranularity, WholeNodes', () => {
    const parsed = parseClassAd(jdlDescription({ ...base, flavour: 'glite' }));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    expect(parsed.attributes).toMatchObject({
      JobType: 'Parametric',
      Parameters: 5,
      CPUNumber: 4,
      SmpGranularity: 4,
      WholeNodes: true,
    });
    expect(parsed.attributes.NumberOfProcessors).toBeUndefined();
  });

  it('DIRAC: JobName, Parameters, NumberOfProcessors and Tags; no gLite attributes, no Requirements', () => {
    const parsed = parseClassAd(jdlDescription({ ...base, flavour: 'dirac' }));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    expect(parsed.attributes).toMatchObject({
      JobName: 'lrt-pref_cal1',
      Parameters: 5,
      ParameterStart: 0,
      ParameterStep: 1,
      NumberOfProcessors: 4,
      Tags: ['WholeNode'],
    });
    for (const name of ['JobType', 'CPUNumber', 'SmpGranularity', 'WholeNodes'])
      expect(parsed.attributes[name]).toBeUndefined();
    expect(() => jdlDescription({ ...base, flavour: 'dirac', requirements: 'true' })).toThrow(
      /DIRAC ignores/,
    );
  });
});

describe('submission.json', () => {
  it('a broken file is refused with its path and what is wrong', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lrt-submission-'));
    await expect(readSubmission(dir)).rejects.toThrow(/submission\.json: no such file/);
    await writeFile(join(dir, 'submission.json'), '{"version": 1, "backend": "pbs"}');
    await expect(readSubmission(dir)).rejects.toThrow(/backend "pbs" is not one of jdl, slurm, local/);
    await writeFile(join(dir, 'submission.json'), '{not json');
    await expect(readSubmission(dir)).rejects.toThrow(/not JSON/);
    const folderInstead = await mkdtemp(join(tmpdir(), 'lrt-submission-'));
    await mkdir(join(folderInstead, 'submission.json'));
    await expect(readSubmission(folderInstead)).rejects.toThrow(
      /submission\.json: cannot read it: it is a directory$/,
    );
  });
});
