import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isFinishedStatus,
  parseProgress,
  parseRequestId,
  planStageRequests,
  progressTable,
  requestIdOf,
} from '../../src/staging';

const sample = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/staging/lta_getprogress_sample.json'), 'utf8'),
) as Record<string, Record<string, string>>;

describe('getprogress answers', () => {
  it('parses the notebook sample into typed requests', () => {
    const [id, raw] = Object.entries(sample)[0]!;
    expect(parseProgress(sample)).toEqual([
      {
        id: Number(id),
        status: raw.Status,
        fileCount: Number(raw['File count']),
        filesDone: Number(raw['Files done']),
        percentDone: Number(raw['Percent done']),
        location: raw.Location,
        userId: raw['User id'],
        flaggedAbort: raw['Flagged abort'] === 'true',
      },
    ]);
  });

  it('sorts by id, derives a missing percentage, and skips what is not a request', () => {
    const requests = parseProgress({
      '20': { Status: 'in progress', 'File count': '4', 'Files done': '1', 'Flagged abort': 'true' },
      '3': { Status: 'new', 'File count': '2', 'Files done': '0', 'Percent done': '0' },
      note: 'not a request',
    });
    expect(requests.map((r) => r.id)).toEqual([3, 20]);
    expect(requests[1]).toMatchObject({ percentDone: 25, flaggedAbort: true, location: '' });
    expect(() => parseProgress(['x'])).toThrow(/getprogress with a list/);
  });

  it('renders the progress table with aligned columns', () => {
    expect(progressTable(parseProgress(sample))).toEqual([
      'ID     STATUS     FILES  DONE  SITE  ABORT',
      '18748  scheduled  0/51   0%    sara',
    ]);
  });
});

describe('request ids and planning', () => {
  it('accepts whole numbers only', () => {
    expect(parseRequestId(' 18748 ')).toBe(18748);
    for (const bad of ['', 'abc', '-1', '1.5', '99999999999'])
      expect(() => parseRequestId(bad)).toThrow(/not a staging request id/);
    expect(requestIdOf(18748)).toBe(18748);
    expect(requestIdOf('18749')).toBe(18749);
    expect(() => requestIdOf(true)).toThrow(/not a request id/);
  });

  it('puts a list in one request unless it is longer than the limit, without duplicates', () => {
    const surls = Array.from({ length: 12 }, (_, i) => `srm://h/${i}`);
    expect(planStageRequests(surls, 5000)).toEqual([surls]);
    expect(planStageRequests([...surls, surls[0]!, ' '], 5).map((c) => c.length)).toEqual([5, 5, 2]);
    expect(planStageRequests([], 5)).toEqual([]);
  });

  it('knows the statuses after which nothing changes', () => {
    expect(['success', 'aborted', 'Partial Success'].every(isFinishedStatus)).toBe(true);
    expect(['new', 'scheduled', 'in progress', 'on hold'].some(isFinishedStatus)).toBe(false);
  });
});
