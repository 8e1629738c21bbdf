import { describe, expect, it } from 'vitest';
import { LrtError } from '../../src/core';
import { type DbWaitNotice, isIndexTimeout, withDbRetry } from '../../src/picas/dbRetry';
import { indexerProgress, isTaskOfDatabase } from '../../src/picas/indexBuild';

/** What nano throws for CouchDB's answer to a read whose index outlasted the request timeout. */
function couchTimeout(): Error {
  return Object.assign(new Error('The request could not be processed in a reasonable amount of time.'), {
    statusCode: 500,
    error: 'timeout',
  });
}

describe('isIndexTimeout', () => {
  it('is CouchDB\'s 500 "timeout" or a proxy\'s 504, decided on status and error code', () => {
    expect(isIndexTimeout(couchTimeout())).toBe(true);
    expect(isIndexTimeout({ statusCode: 504 })).toBe(true);
    expect(isIndexTimeout(new LrtError('E_DB', 'x', { details: { status: 500, error: 'timeout' } }))).toBe(
      true,
    );
    // Another 500 (a crashed map function, an os_process_error) is no index build.
    expect(isIndexTimeout({ statusCode: 500, error: 'os_process_error' })).toBe(false);
    expect(isIndexTimeout({ statusCode: 500, error: 'unknown_error', reason: 'timeout' })).toBe(false);
    expect(isIndexTimeout({ statusCode: 404, error: 'timeout' })).toBe(false);
    expect(isIndexTimeout(undefined)).toBe(false);
  });
});

describe('withDbRetry', () => {
  it('waits for an index being built beyond the outage limit, reporting each wait', async () => {
    let calls = 0;
    const notices: DbWaitNotice[] = [];
    const answer = await withDbRetry(
      async () => {
        if (++calls < 3) throw couchTimeout();
        return 'rows';
      },
      { what: 'view todo of _design/t', maxWaitMs: 0, onWait: (n) => notices.push(n), rng: () => 0 },
    );
    expect(answer).toBe('rows');
    expect(calls).toBe(3);
    expect(notices.map((n) => [n.kind, n.attempt])).toEqual([
      ['index', 1],
      ['index', 2],
    ]);
    expect(notices[0]!.message).toMatch(
      /^view todo of _design\/t: the server is still building the view index/,
    );
  });

  it('gives up on an index wait only past indexWaitMs, and never retries other errors', async () => {
    let now = 0;
    let calls = 0;
    const timedOut = withDbRetry(
      async () => {
        calls++;
        now += 60_000;
        throw couchTimeout();
      },
      { what: 'v', maxWaitMs: 0, indexWaitMs: 100_000, clock: () => now, rng: () => 0 },
    );
    await expect(timedOut).rejects.toMatchObject({ statusCode: 500, error: 'timeout' });
    expect(calls).toBe(2);

    let refused = 0;
    await expect(
      withDbRetry(
        async () => {
          refused++;
          throw new LrtError('E_DB_AUTH', 'no');
        },
        { what: 'v', maxWaitMs: 60_000 },
      ),
    ).rejects.toThrow('no');
    expect(refused).toBe(1);
    // An outage with maxWaitMs 0 is thrown at once: the caller (the pilot loop) decides about those.
    let outages = 0;
    await expect(
      withDbRetry(
        async () => {
          outages++;
          throw new LrtError('E_DB_UNREACHABLE', 'down');
        },
        { what: 'v', maxWaitMs: 0 },
      ),
    ).rejects.toThrow('down');
    expect(outages).toBe(1);
  });
});

describe('index progress from /_active_tasks', () => {
  it('sums the indexer tasks of one design document over the shards of one database', () => {
    const tasks = [
      {
        type: 'indexer',
        database: 'shards/00000000-7fffffff/camp.1765000000',
        design_document: '_design/views:s',
        changes_done: 100,
        total_changes: 500,
      },
      {
        type: 'indexer',
        database: 'shards/80000000-ffffffff/camp.1765000000',
        design_document: '_design/views:s',
        changes_done: 50,
        total_changes: 500,
      },
      {
        type: 'indexer',
        database: 'shards/00000000-ffffffff/campaign.1765000000',
        design_document: '_design/views:s',
        changes_done: 7,
        total_changes: 9,
      },
      { type: 'indexer', database: 'camp', design_document: '_design/s', changes_done: 1, total_changes: 2 },
      { type: 'view_compaction', database: 'camp', design_document: '_design/views:s', changes_done: 3 },
    ];
    expect(indexerProgress(tasks, 'camp', '_design/views:s')).toEqual({
      changesDone: 150,
      totalChanges: 1000,
    });
    expect(indexerProgress(tasks, 'camp', '_design/s')).toEqual({ changesDone: 1, totalChanges: 2 });
    expect(indexerProgress(tasks, 'camp', '_design/claim:s')).toBeUndefined();
    expect(isTaskOfDatabase('shards/00000000-ffffffff/a.b.1765000000', 'a.b')).toBe(true);
    expect(isTaskOfDatabase('shards/00000000-ffffffff/a.1765000000', 'a.b')).toBe(false);
    expect(isTaskOfDatabase(undefined, 'a')).toBe(false);
  });
});
