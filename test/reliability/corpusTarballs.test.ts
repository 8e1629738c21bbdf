import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getAttachment } from '../../src/picas/attachments';
import { bulkCreateTokens } from '../../src/picas/bulkCreate';
import { logAttachmentName } from '../../src/picas/logNames';
import type { TokenErrorEntry } from '../../src/picas/protocol';
import { writeTarballs } from '../corpus/make';
import { createPilotWorld } from '../helpers/pilotWorld';

/**
 * Every sandbox tarball of the corpus as the SBXloc of a token, all processed by ONE pilot: the
 * bad ones end in error naming the entry or the archive, the good ones run, the pilot exits 0,
 * and nothing lands outside the job dirs (the escapes aim at a watched folder).
 */
describe('sandbox tarball corpus through a pilot', () => {
  it('refuses each bad tarball with its cause, runs the good ones, writes nothing outside', async () => {
    const world = await createPilotWorld({ type: 'tarcorpus', tokens: [] });
    const outside = join(world.dir, 'outside');
    const written = await writeTarballs(join(world.dir, 'tarballs'), outside);
    const ids = written.map((_, i) => `t_tarcorpus_${String(i).padStart(2, '0')}`);
    const report = await bulkCreateTokens(
      world.picas,
      'tarcorpus',
      written.map(({ path }, i) => ({ id: ids[i]!, fields: { SBXloc: `file://${path}` } })),
    );
    expect(report.failed).toEqual([]);

    const result = await world.startPilot(['--json', '--log', join(world.dir, 'pilot.log')]);
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { claimed: number; done: number; failed: number };
    const good = written.filter(({ c }) => c.outcome === 'done').length;
    expect(summary).toMatchObject({ claimed: written.length, done: good, failed: written.length - good });

    for (const [i, { c }] of written.entries()) {
      const token = await world.token(ids[i]!);
      expect(token.status, c.name).toBe(c.outcome);
      if (c.outcome === 'error') {
        const message = (token.error as TokenErrorEntry[]).at(-1)?.message ?? '';
        for (const part of c.expect) expect(message, c.name).toContain(part);
        expect(token.exit_code, c.name).not.toBe(0);
      } else {
        const stdout = await getAttachment(world.picas, ids[i]!, logAttachmentName(1, 'stdout'));
        for (const part of c.expect) expect(stdout.toString(), c.name).toContain(part);
      }
    }
    expect(await readdir(outside)).toEqual([]);
    // the job dirs are gone; the node cache holds the good sandboxes only (nothing half-extracted)
    const work = join(world.dir, 'work');
    expect(await readdir(work)).toEqual(['.lrt-cache']);
    const cached = await readdir(join(work, '.lrt-cache'));
    expect(cached.length).toBe(good);
    for (const entry of cached) {
      const marker = JSON.parse(await readFile(join(work, '.lrt-cache', entry, '.complete'), 'utf8'));
      expect(marker.key).toBe(entry);
    }
  }, 120_000);
});
