import { describe, expect, it } from 'vitest';
import { createOutput, createProgress } from '../../src/cli/output';
import { LrtError } from '../../src/core';

function sink(isTTY: boolean) {
  const text: string[] = [];
  return { stream: { isTTY, write: (t: string) => text.push(t) }, text };
}

describe('CLI output', () => {
  it('shows no progress for work under a second, then a bar with counts, share and rate', () => {
    let now = 0;
    const { stream, text } = sink(true);
    const progress = createProgress('tokens', 200, stream, () => now);
    now = 500;
    progress.tick(50);
    expect(text).toEqual([]);
    now = 2000;
    progress.tick(50);
    progress.done();
    expect(text.at(-1)).toBe(`\rtokens [${'#'.repeat(15)}${'-'.repeat(15)}] 100/200 50% 50/s\n`);
  });

  it('off a terminal prints a plain line at most every 5 s, and nothing for quick work', () => {
    let now = 0;
    const { stream, text } = sink(false);
    const progress = createProgress('reset', 10, stream, () => now);
    for (let i = 0; i < 10; i++) {
      now += 900;
      progress.tick();
    }
    progress.done();
    expect(text.every((t) => !t.startsWith('\r') && t.endsWith('\n'))).toBe(true);
    expect(text.length).toBeLessThanOrEqual(3);
    expect(text.at(-1)).toContain('10/10 100%');
    const quick = sink(false);
    const p2 = createProgress('x', 3, quick.stream, () => 0);
    p2.tick(3);
    p2.done();
    expect(quick.text).toEqual([]);
  });

  it('--json puts results and errors on stdout as JSON, human lines nowhere', () => {
    const out = { stdout: sink(false), stderr: sink(false) };
    const o = createOutput(true, { stdout: out.stdout.stream, stderr: out.stderr.stream });
    o.line('human');
    o.result({ a: 1 });
    o.error(new LrtError('E_DB_AUTH', 'refused', { details: { database: 'd' } }));
    const printed = out.stdout.text.join('');
    expect(printed).not.toContain('human');
    const [first, second] = printed
      .trim()
      .split(/\n(?=\{)/)
      .map((t) => JSON.parse(t));
    expect(first).toEqual({ a: 1 });
    expect(second).toEqual({ error: { code: 'E_DB_AUTH', message: 'refused', database: 'd' } });
    expect(out.stderr.text.join('')).toBe('lrt: refused\n');
  });
});
