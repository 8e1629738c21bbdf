import { describe, expect, it } from 'vitest';
import { changedFields } from '../../src/picas/bulkUpdate';
import {
  attachmentsToDrop,
  deletePatch,
  isLogAttachment,
  resetPatch,
  setStatusPatch,
} from '../../src/picas/protocol';
import { type StoredToken, type TokenDoc, tokenFromDoc, tokenToDoc } from '../../src/picas/tokenDoc';
import { fixtureText, stateFields } from '../helpers/tokens';

// A token as GRID_LRT's TokenSet made it (seed notebook): status "queued", srm.txt attached.
const fixture = JSON.parse(fixtureText('token_tokenset_tutorial_cfg.json')) as StoredToken;
const fixtureTimes = fixture.times ?? {};
const NOW = 1_800_000_000;

function inState(state: Parameters<typeof stateFields>[0], extra: Record<string, unknown> = {}): TokenDoc {
  return tokenFromDoc({ ...structuredClone(fixture), ...stateFields(state), ...extra });
}

function patched(result: ReturnType<typeof resetPatch>): TokenDoc {
  if ('skip' in result) throw new Error(`unexpected skip: ${result.skip}`);
  return result.doc;
}

const LOG = { content_type: 'text/plain', length: 10, stub: true as const };

describe('resetPatch (docs/protocol.md, Reset)', () => {
  it('frees a locked token: lock=0, done=0, todo, scrub_count+1, hostname and output cleared, lease removed', () => {
    const before = inState('locked', { scrub_count: 2, output: 'x' });
    const after = patched(resetPatch(before, { now: NOW }));
    expect(after).toMatchObject({
      lock: 0,
      done: 0,
      status: 'todo',
      scrub_count: 3,
      hostname: '',
      output: '',
    });
    expect(after.lease).toBeUndefined();
    expect(after.times).toEqual({ ...fixtureTimes, reset: NOW });
    // Everything else the token carries stays as it was.
    for (const field of ['PIPELINE', 'RESULTS_DIR', 'LOFAR_PATH', 'SBXloc', 'type', 'STARTSB', '_rev']) {
      expect(tokenToDoc(after)[field]).toEqual(fixture[field]);
    }
    expect(after._attachments).toEqual(fixture._attachments);
  });

  it('resets a finished token in error and removes its exit_code', () => {
    const after = patched(resetPatch(inState('error', { exit_code: 1 }), { now: NOW }));
    expect(after).toMatchObject({ lock: 0, done: 0, status: 'todo', scrub_count: 1, output: '' });
    expect('exit_code' in after).toBe(false);
  });

  it('changes only status, scrub_count and times on the GRID_LRT "queued" token (already unlocked)', () => {
    const result = resetPatch(tokenFromDoc(structuredClone(fixture)), { now: NOW });
    expect(Object.keys(changedFields(tokenFromDoc(fixture), patched(result))).sort()).toEqual([
      'scrub_count',
      'status',
      'times',
    ]);
  });

  it('skips a token that is already free at todo, so a second reset does not count it twice', () => {
    const once = patched(resetPatch(inState('locked'), { now: NOW }));
    const twice = resetPatch(once, { now: NOW + 5 });
    expect(twice).toEqual({ skip: expect.stringContaining(fixture._id) });
  });

  it('counts from a missing or textual scrub_count', () => {
    const { scrub_count: _, ...noCount } = inState('error');
    expect(patched(resetPatch(noCount, { now: NOW })).scrub_count).toBe(1);
    expect(patched(resetPatch(inState('error', { scrub_count: '4' }), { now: NOW })).scrub_count).toBe(5);
  });

  it("drops log attachments with 'logs' and keeps the inputs", () => {
    const before = inState('error', {
      _attachments: { ...fixture._attachments, 'run.log': LOG, stderr: LOG },
    });
    const after = patched(resetPatch(before, { now: NOW, dropAttachments: 'logs' }));
    expect(Object.keys(after._attachments ?? {})).toEqual(['srm.txt']);
    expect(changedFields(before, after)._attachments).toEqual({
      before: ['run.log', 'srm.txt', 'stderr'],
      after: ['srm.txt'],
    });
  });

  it('drops exactly the named attachments, and the field when none is left', () => {
    const before = inState('done', {
      _attachments: { 'srm.txt': fixture._attachments?.['srm.txt'], 'a.cfg': LOG },
    });
    expect(
      Object.keys(patched(resetPatch(before, { now: NOW, dropAttachments: ['a.cfg'] }))._attachments ?? {}),
    ).toEqual(['srm.txt']);
    const bare = patched(resetPatch(before, { now: NOW, dropAttachments: ['a.cfg', 'srm.txt'] }));
    expect('_attachments' in bare).toBe(false);
  });

  it('is not skipped on a free token when there are logs to drop', () => {
    const free = inState('todo', { _attachments: { 'pilot.out': LOG } });
    expect(resetPatch(free, { now: NOW })).toHaveProperty('skip');
    expect(patched(resetPatch(free, { now: NOW, dropAttachments: 'logs' }))._attachments).toBeUndefined();
  });

  it('leaves the input document untouched', () => {
    const before = inState('locked');
    const copy = structuredClone(before);
    resetPatch(before, { now: NOW, dropAttachments: 'logs' });
    expect(before).toEqual(copy);
  });
});

describe('setStatusPatch (GRID_LRT set_view_to_status)', () => {
  it("'locked' locks the token (lock=now) and keeps done at 0", () => {
    const after = patched(setStatusPatch(inState('todo'), 'locked', NOW));
    expect(after).toMatchObject({ status: 'locked', lock: NOW, done: 0 });
    expect(after.times?.locked).toBe(NOW);
  });

  it("'locked' on a locked token is skipped, and a pilot's lease is never touched", () => {
    expect(setStatusPatch(inState('locked'), 'locked', NOW)).toHaveProperty('skip');
    const running = inState('running');
    expect(patched(setStatusPatch(running, 'locked', NOW)).lease).toEqual(running.lease);
  });

  it("'todo' frees the token: lock=0, done=0, lease removed, scrub_count unchanged", () => {
    const after = patched(setStatusPatch(inState('locked', { scrub_count: 2 }), 'todo', NOW));
    expect(after).toMatchObject({ status: 'todo', lock: 0, done: 0, scrub_count: 2 });
    expect(after.lease).toBeUndefined();
    expect(setStatusPatch(after, 'todo', NOW)).toHaveProperty('skip');
  });

  it("'done' and 'error' set done=now and end the lease", () => {
    for (const status of ['done', 'error']) {
      const before = inState('running');
      const after = patched(setStatusPatch(before, status, NOW));
      expect(after).toMatchObject({ status, done: NOW, lock: before.lock });
      expect(after.lease).toBeUndefined();
      expect(setStatusPatch(after, status, NOW + 1)).toHaveProperty('skip');
    }
  });

  it('any other status changes only status (and its time)', () => {
    const before = inState('todo');
    const after = patched(setStatusPatch(before, 'queued', NOW));
    expect(changedFields(before, after)).toEqual({
      status: { before: 'todo', after: 'queued' },
      times: { before: fixture.times, after: { ...fixtureTimes, queued: NOW } },
    });
    expect(setStatusPatch(tokenFromDoc(structuredClone(fixture)), 'queued', NOW)).toHaveProperty('skip');
  });
});

describe('deletePatch and changedFields', () => {
  it('makes a tombstone guarded by the rev read', () => {
    expect(deletePatch(tokenFromDoc(fixture))).toEqual({
      doc: { _id: fixture._id, _rev: fixture._rev, _deleted: true },
    });
    expect(changedFields(tokenFromDoc(fixture), deletePatch(tokenFromDoc(fixture)).doc)).toEqual({
      _deleted: { before: false, after: true },
    });
  });

  it('names log attachments by their suffix or stdout/stderr prefix', () => {
    const names = [
      'run.log',
      'pilot.out',
      'job.err',
      'stdout.txt',
      'STDERR',
      'srm.txt',
      'x.logfile',
      'a.cfg',
    ];
    expect(names.filter(isLogAttachment)).toEqual([
      'run.log',
      'pilot.out',
      'job.err',
      'stdout.txt',
      'STDERR',
    ]);
    expect(attachmentsToDrop(tokenFromDoc(fixture), 'logs')).toEqual([]);
    expect(attachmentsToDrop(tokenFromDoc(fixture), 'none')).toEqual([]);
  });
});
