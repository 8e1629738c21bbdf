import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { lastStatusLine, watchStatusFile } from '../../src/pilot/statusFile';

const dir = mkdtempSync(join(tmpdir(), 'lrt-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lastStatusLine', () => {
  it('takes the last non-empty line, trimmed, CRLF or LF', () => {
    expect(lastStatusLine('downloading\nrunning\n')).toBe('running');
    expect(lastStatusLine('a\r\n  b step 2  \r\n\r\n \n')).toBe('b step 2');
    expect(lastStatusLine('only partial')).toBe('only partial');
    expect(lastStatusLine('\n \n')).toBeUndefined();
    expect(lastStatusLine('')).toBeUndefined();
  });
});

describe('watchStatusFile', () => {
  it('reports a change once, ignores rewrites of the same line, reads once more on stop', async () => {
    const path = join(dir, 'pipeline_status');
    const seen: string[] = [];
    const watcher = watchStatusFile(path, (line) => seen.push(line), 10);
    // no file yet: nothing happens, nothing throws
    writeFileSync(path, 'downloading\n');
    await vi.waitFor(() => expect(seen).toEqual(['downloading']));
    writeFileSync(path, 'downloading\n\n');
    writeFileSync(path, 'running\n');
    await vi.waitFor(() => expect(seen).toEqual(['downloading', 'running']));
    writeFileSync(path, 'x\nrunning\n');
    writeFileSync(path, 'done\n');
    expect(await watcher.stop()).toBe('done');
    expect(seen.at(-1)).toBe('done');
    expect(seen.filter((s) => s === 'running')).toHaveLength(1);
    expect(watcher.last()).toBe('done');
  });

  it('keeps watching when onStatus throws', async () => {
    const path = join(dir, 'throws');
    const seen: string[] = [];
    const watcher = watchStatusFile(
      path,
      (line) => {
        seen.push(line);
        throw new Error('listener bug');
      },
      10,
    );
    writeFileSync(path, 'one\n');
    await vi.waitFor(() => expect(seen).toEqual(['one']));
    writeFileSync(path, 'two\n');
    await watcher.stop();
    expect(seen).toEqual(['one', 'two']);
  });
});
