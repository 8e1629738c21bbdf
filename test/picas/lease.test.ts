import { describe, expect, it } from 'vitest';
import { jobIdsFromEnv, primaryJobId } from '../../src/picas/jobIds';
import {
  type AttemptRecord,
  type ClaimInput,
  claimPatch,
  finishPatch,
  heartbeatPatch,
  LEASE_EXPIRED,
  type Lease,
  MAX_ATTEMPT_RECORDS,
  type ReclaimInput,
  reclaimPatch,
  releasePatch,
  STDERR_TAIL_CHARS,
} from '../../src/picas/protocol';
import { type TokenDoc, tokenFromDoc, tokenToDoc } from '../../src/picas/tokenDoc';
import { claimViews, SPREAD_VIEW, standardViews } from '../../src/picas/viewDefinitions';
import { tokenDocs } from '../helpers/seedTokens';

const TYPE = 'pref_cal1';
const T0 = 1_700_000_000;

/** Runs the design documents' own map functions, as CouchDB would, to see which views list a doc. */
function viewsListing(doc: TokenDoc): string[] {
  const listed: string[] = [];
  for (const [name, source] of Object.entries({ ...standardViews(TYPE), ...claimViews(TYPE) })) {
    let emitted = false;
    const map = new Function('emit', `return (${source.map});`)(() => {
      emitted = true;
    });
    map(JSON.parse(JSON.stringify(tokenToDoc(doc))));
    if (emitted && !name.startsWith('overview')) listed.push(name);
  }
  // todo_spread lists what todo lists (keyed differently for the claim): shown as todo.
  expect(listed.includes(SPREAD_VIEW)).toBe(listed.includes('todo'));
  return listed.filter((name) => name !== SPREAD_VIEW).sort();
}

function freshToken(extra: Record<string, unknown> = {}): TokenDoc {
  return tokenFromDoc({ ...tokenDocs(TYPE, 1, extra)[0]!, _rev: '1-abc' });
}

function input(over: Partial<ClaimInput> = {}): ClaimInput {
  return {
    leaseId: 'lease-A',
    pilot: 'pilot-A',
    host: 'wn-a.grid',
    jobIds: {},
    now: T0,
    leaseSeconds: 600,
    ...over,
  };
}

function claimed(doc: TokenDoc, over: Partial<ClaimInput> = {}): TokenDoc {
  const result = claimPatch(doc, input(over));
  if (!('doc' in result)) throw new Error(`not claimable: ${result.skip}`);
  return result.doc;
}

const lease = (doc: TokenDoc): Lease => doc.lease!;
const attempts = (doc: TokenDoc): AttemptRecord[] => doc.attempts!;

describe('claimPatch', () => {
  it('locks a free token under a new lease and moves it from todo to locked', () => {
    const before = freshToken();
    const frozen = JSON.stringify(before);
    const doc = claimed(before, { jobIds: { slurm_job_id: '4242_7' } });

    expect(JSON.stringify(before)).toBe(frozen);
    expect(doc).toMatchObject({ _id: before._id, _rev: '1-abc', lock: T0, done: 0, status: 'locked' });
    expect(doc.hostname).toBe('wn-a.grid');
    expect(doc.slurm_job_id).toBe('4242_7');
    expect(lease(doc)).toEqual({
      id: 'lease-A',
      pilot: 'pilot-A',
      host: 'wn-a.grid',
      expires: T0 + 600,
      renewed: T0,
      attempt: 1,
      lock: T0,
    });
    expect(doc.times).toEqual({ locked: T0 });
    expect(attempts(doc)).toEqual([
      { n: 1, pilot: 'pilot-A', host: 'wn-a.grid', jobid: '4242_7', started: T0 },
    ]);
    expect(viewsListing(before)).toEqual(['todo']);
    expect(viewsListing(doc)).toEqual(['expired', 'locked']);
  });

  it("uses the token's own lease_s over the pilot's lease length", () => {
    expect(lease(claimed(freshToken({ lease_s: 7200 }))).expires).toBe(T0 + 7200);
  });

  it('only takes job id fields from jobIds, never protocol fields', () => {
    const doc = claimed(freshToken(), { jobIds: { dirac_job_id: '99', lock: '0', _id: 'evil' } });
    expect(doc.dirac_job_id).toBe('99');
    expect(doc._id).toBe(freshToken()._id);
    expect(doc.lock).toBe(T0);
  });

  it.each([
    ['locked', { lock: T0 - 5 }],
    ['finished', { done: T0 - 5, lock: T0 - 10 }],
    ['staging', { status: 'staging' }],
    ['without a lock field', { lock: undefined }],
  ])('skips a token that is %s', (_, extra) => {
    const result = claimPatch(freshToken(extra), input());
    expect(result).toHaveProperty('skip');
    expect((result as { skip: string }).skip).toContain(freshToken()._id);
  });

  it('treats lock "0" like 0, as GRID_LRT compares with ==', () => {
    expect(claimPatch(freshToken({ lock: '0', done: '0' }), input())).toHaveProperty('doc');
  });

  it('closes an attempt left open by a login-side reset before counting the next', () => {
    const first = claimed(freshToken());
    // docs/protocol.md, Reset: lock=0, done=0, status=todo, scrub_count+1, hostname="", output="", lease removed
    const { lease: _gone, ...reset }: TokenDoc = {
      ...first,
      lock: 0,
      done: 0,
      status: 'todo',
      scrub_count: 1,
    };
    const second = claimed(reset, { leaseId: 'lease-B', pilot: 'pilot-B', now: T0 + 50 });
    expect(attempts(second).map((a) => [a.n, a.pilot, a.ended, a.reason])).toEqual([
      [1, 'pilot-A', T0 + 50, 'reset'],
      [2, 'pilot-B', undefined, undefined],
    ]);
    expect(lease(second).attempt).toBe(2);
  });

  it(`keeps only the last ${MAX_ATTEMPT_RECORDS} attempt records`, () => {
    let doc = freshToken();
    const rounds = MAX_ATTEMPT_RECORDS + 5;
    for (let i = 1; i <= rounds; i++) {
      doc = claimed(doc, { leaseId: `L${i}`, now: T0 + i });
      const released = releasePatch(doc, `L${i}`, { now: T0 + i, reason: 'SIGTERM' });
      if (!('doc' in released)) throw new Error('lost');
      doc = released.doc;
    }
    const list = attempts(doc);
    expect(list).toHaveLength(MAX_ATTEMPT_RECORDS);
    expect(list[0]!.n).toBe(rounds - MAX_ATTEMPT_RECORDS + 1);
    expect(list.at(-1)!.n).toBe(rounds);
    expect(doc.scrub_count).toBe(rounds);
  });
});

describe('reclaimPatch', () => {
  const held = () => claimed(freshToken(), { leaseSeconds: 60 });
  const B = { leaseId: 'lease-B', pilot: 'pilot-B', host: 'wn-b.grid' };
  const byB = (over: Partial<ReclaimInput>): ReclaimInput => ({ ...input(B), maxAttempts: 3, ...over });

  it('leaves a token alone while its lease runs', () => {
    expect(reclaimPatch(held(), byB({ now: T0 + 59 }))).toHaveProperty('skip');
    expect(reclaimPatch(freshToken(), byB({ now: T0 + 999 }))).toHaveProperty('skip');
  });

  it('takes over an expired lease: scrub_count+1, the old attempt closed as expired', () => {
    const result = reclaimPatch(held(), byB({ now: T0 + 60 }));
    expect(result).toHaveProperty('outcome', 'claimed');
    const doc = (result as { doc: TokenDoc }).doc;
    expect(doc.scrub_count).toBe(1);
    expect(doc.hostname).toBe('wn-b.grid');
    expect(lease(doc)).toMatchObject({ id: 'lease-B', pilot: 'pilot-B', expires: T0 + 660, attempt: 2 });
    expect(attempts(doc).map((a) => [a.n, a.pilot, a.ended, a.reason])).toEqual([
      [1, 'pilot-A', T0 + 60, LEASE_EXPIRED],
      [2, 'pilot-B', undefined, undefined],
    ]);
  });

  it('sends a token to error once its lease expired maxAttempts times in a row', () => {
    let doc = held();
    const hb = heartbeatPatch(doc, 'lease-A', { now: T0 + 10, leaseSeconds: 60, phase: 'running' });
    doc = (hb as { doc: TokenDoc }).doc;
    const first = reclaimPatch(doc, byB({ now: T0 + 100, leaseSeconds: 60, maxAttempts: 2 }));
    expect(first).toHaveProperty('outcome', 'claimed');
    doc = (first as { doc: TokenDoc }).doc;
    const second = reclaimPatch(doc, {
      ...input({ leaseId: 'lease-C', pilot: 'pilot-C', host: 'wn-c.grid' }),
      now: T0 + 200,
      maxAttempts: 2,
    });
    expect(second).toMatchObject({
      outcome: 'errored',
      reason: 'lease expired 2 times; last pilot pilot-B on host wn-b.grid',
    });
    const errored = (second as { doc: TokenDoc }).doc;
    expect(errored).toMatchObject({ status: 'error', done: T0 + 200, scrub_count: 2 });
    expect(errored.lease).toBeUndefined();
    expect(errored.error).toEqual([
      {
        time: T0 + 200,
        message: 'lease expired 2 times; last pilot pilot-B on host wn-b.grid',
        phase: 'locked',
      },
    ]);
    expect(errored.launcher_status).toContain('lease expired 2 times');
    expect(viewsListing(errored)).toEqual(['error']);
  });

  it('counts only expiries in a row: a release in between starts over', () => {
    let doc = claimed(freshToken(), { leaseSeconds: 60 });
    doc = (reclaimPatch(doc, byB({ now: T0 + 100, leaseSeconds: 60 })) as { doc: TokenDoc }).doc;
    doc = (releasePatch(doc, 'lease-B', { now: T0 + 110, reason: 'SIGTERM' }) as { doc: TokenDoc }).doc;
    doc = claimed(doc, { leaseId: 'lease-D', now: T0 + 120, leaseSeconds: 60 });
    const again = reclaimPatch(doc, byB({ leaseId: 'lease-E', now: T0 + 300, maxAttempts: 2 }));
    expect(again).toHaveProperty('outcome', 'claimed');
  });

  it('rebuilds the expired attempt from the lease when the record is gone', () => {
    const doc = { ...held(), attempts: [] };
    const result = reclaimPatch(doc, byB({ now: T0 + 61, maxAttempts: 1 }));
    expect(result).toMatchObject({
      outcome: 'errored',
      reason: 'lease expired 1 times; last pilot pilot-A on host wn-a.grid',
    });
    expect(attempts((result as { doc: TokenDoc }).doc)).toEqual([
      { n: 1, pilot: 'pilot-A', host: 'wn-a.grid', started: T0, ended: T0 + 61, reason: LEASE_EXPIRED },
    ]);
  });
});

describe('writes under the lease', () => {
  it('heartbeat renews the lease and reports phase, status line, progress and bytes', () => {
    const doc = claimed(freshToken());
    const beat = heartbeatPatch(doc, 'lease-A', {
      now: T0 + 200,
      leaseSeconds: 600,
      phase: 'running',
      statusLine: '  starting generic pipeline \n',
      progress: 1.7,
      bytes: 12345,
    });
    const next = (beat as { doc: TokenDoc }).doc;
    expect(lease(next)).toMatchObject({ id: 'lease-A', expires: T0 + 800, renewed: T0 + 200 });
    expect(next.status).toBe('starting generic pipeline');
    expect(next.times).toEqual({ locked: T0, running: T0 + 200 });
    expect(attempts(next)[0]!.phase).toBe('running');
    expect(next.progress).toBe(1);
    expect(next.bytes_moved).toBe(12345);
    expect(viewsListing(next)).toEqual(['expired', 'locked']);
  });

  it('heartbeat never lets a status line pose as a protocol status', () => {
    const doc = claimed(freshToken());
    const next = heartbeatPatch(doc, 'lease-A', {
      now: T0 + 1,
      leaseSeconds: 60,
      phase: 'running',
      statusLine: 'done',
    });
    expect((next as { doc: TokenDoc }).doc.status).toBe('running');
  });

  it('finish with success: done, exit code in output and exit_code, lease gone, lock kept', () => {
    const doc = claimed(freshToken());
    const result = finishPatch(doc, 'lease-A', {
      now: T0 + 900,
      exitCode: 0,
      ok: true,
      phase: 'uploading',
      fields: { Results_location: 'gsiftp://x/y.tar', lock: 0, _id: 'other', status: 'todo' },
    });
    const next = (result as { doc: TokenDoc }).doc;
    expect(next).toMatchObject({
      _id: doc._id,
      lock: T0,
      done: T0 + 900,
      status: 'done',
      output: 0,
      exit_code: 0,
    });
    expect(next).toMatchObject({ progress: 1, Results_location: 'gsiftp://x/y.tar' });
    expect(next.lease).toBeUndefined();
    expect(next.times).toEqual({ locked: T0, done: T0 + 900 });
    expect(attempts(next)[0]).toMatchObject({ ended: T0 + 900, phase: 'uploading', exit: 0, reason: 'done' });
    expect(viewsListing(next)).toEqual(['done']);
  });

  it('finish with failure: error entry with phase, exit code and the stderr tail', () => {
    const doc = claimed(freshToken({ error: 'old failure text' }));
    const stderr = `${'x'.repeat(STDERR_TAIL_CHARS)}THE END`;
    const result = finishPatch(doc, 'lease-A', {
      now: T0 + 5,
      exitCode: 99,
      ok: false,
      phase: 'running',
      stderrTail: stderr,
    });
    const next = (result as { doc: TokenDoc }).doc;
    expect(next).toMatchObject({ status: 'error', done: T0 + 5, output: 99, exit_code: 99 });
    const errors = next.error as Record<string, unknown>[];
    expect(errors[0]).toBe('old failure text');
    expect(errors[1]).toMatchObject({ time: T0 + 5, phase: 'running', exit_code: 99 });
    expect(errors[1]!.message).toContain('99');
    expect((errors[1]!.stderr_tail as string).endsWith('THE END')).toBe(true);
    expect((errors[1]!.stderr_tail as string).length).toBe(STDERR_TAIL_CHARS);
    expect(next.launcher_status).toBe(errors[1]!.message);
    expect(viewsListing(next)).toEqual(['error']);
  });

  it('release gives the token back to todo with scrub_count+1 and the reason', () => {
    const doc = claimed(freshToken({ scrub_count: 2 }));
    const result = releasePatch(doc, 'lease-A', { now: T0 + 30, reason: 'SIGTERM: walltime' });
    const next = (result as { doc: TokenDoc }).doc;
    expect(next).toMatchObject({ lock: 0, done: 0, status: 'todo', scrub_count: 3, hostname: '' });
    expect(next.launcher_status).toBe('SIGTERM: walltime');
    expect(next.lease).toBeUndefined();
    expect(attempts(next)[0]).toMatchObject({ ended: T0 + 30, reason: 'SIGTERM: walltime' });
    expect(viewsListing(next)).toEqual(['todo']);
  });

  it('every write under the lease reports the token lost when the lease is not ours', () => {
    const doc = claimed(freshToken());
    const other = { ...doc, lease: { ...lease(doc), id: 'lease-Z' } };
    const { lease: _gone, ...reset } = doc;
    const writes = [
      (d: TokenDoc) => heartbeatPatch(d, 'lease-A', { now: T0, leaseSeconds: 60 }),
      (d: TokenDoc) => finishPatch(d, 'lease-A', { now: T0, exitCode: 0, ok: true, phase: 'running' }),
      (d: TokenDoc) => releasePatch(d, 'lease-A', { now: T0, reason: 'x' }),
    ];
    for (const write of writes) {
      expect(write(other)).toEqual({ lost: true, holder: 'lease-Z' });
      expect(write(reset)).toEqual({ lost: true, holder: undefined });
    }
  });
});

describe('jobIdsFromEnv', () => {
  it('names Slurm array tasks <array job>_<task>', () => {
    const env = { SLURM_JOB_ID: '1008', SLURM_ARRAY_JOB_ID: '1000', SLURM_ARRAY_TASK_ID: '8' };
    expect(jobIdsFromEnv(env)).toEqual({ slurm_job_id: '1000_8' });
    expect(jobIdsFromEnv({ SLURM_JOB_ID: '1008' })).toEqual({ slurm_job_id: '1008' });
  });

  it('reads DIRAC, gLite WMS and PBS ids, ignoring N/A', () => {
    const env = {
      DIRACJOBID: '123456',
      GLITE_WMS_JOBID: 'https://wms.grid.sara.nl:9000/abc',
      PBS_JOBID: '77[3].batch.example',
      SLURM_JOB_ID: '55',
    };
    const ids = jobIdsFromEnv(env);
    expect(ids).toEqual({
      dirac_job_id: '123456',
      wms_job_id: 'https://wms.grid.sara.nl:9000/abc',
      pbs_job_id: '77[3].batch.example',
      slurm_job_id: '55',
    });
    expect(primaryJobId(ids)).toBe('123456');
    expect(jobIdsFromEnv({ GLITE_WMS_JOBID: 'N/A', DIRAC_JOB_ID: '9' })).toEqual({ dirac_job_id: '9' });
  });

  it('trusts JOB_ID only under Grid Engine', () => {
    expect(jobIdsFromEnv({ JOB_ID: '5' })).toEqual({});
    expect(jobIdsFromEnv({ JOB_ID: '5', SGE_ROOT: '/opt/sge', SGE_TASK_ID: '2' })).toEqual({
      sge_job_id: '5[2]',
    });
    expect(primaryJobId({})).toBeUndefined();
  });
});
