import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getAttachment } from '../../src/picas/attachments';
import { logAttachmentName } from '../../src/picas/logNames';
import type { TokenErrorEntry } from '../../src/picas/protocol';
import type { StoredToken } from '../../src/picas/tokenDoc';
import { NON_UTF8_STDERR, TOKEN_CASES, TOKEN_CORPUS_MASTER } from '../corpus/tokens';
import { lrt } from '../helpers/cli';
import { databaseFingerprint } from '../helpers/couch';
import { createPilotWorld } from '../helpers/pilotWorld';

const TYPE = 'tokcorpus';
/** More than a claim page (10) of tokens whose lock/done are "zero" only by JavaScript `==`. */
const LOOSE_ZEROS = 12;

function tokenDoc(id: string, fields: Record<string, unknown>, sandboxUrl: string): StoredToken {
  const doc: Record<string, unknown> = {
    _id: id,
    type: TYPE,
    lock: 0,
    done: 0,
    status: 'todo',
    SBXloc: sandboxUrl,
  };
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) delete doc[field];
    else doc[field] = value;
  }
  return doc as StoredToken;
}

async function text(
  world: Awaited<ReturnType<typeof createPilotWorld>>,
  id: string,
  kind: 'stdout' | 'pilot',
) {
  return (await getAttachment(world.picas, id, logAttachmentName(1, kind))).toString();
}

describe('malformed tokens through one pilot', () => {
  it('errors, runs or leaves alone each token as README.md says, and the pilot finishes them all with exit 0', async () => {
    const world = await createPilotWorld({ type: TYPE, tokens: [], masterScript: TOKEN_CORPUS_MASTER });
    const docs = TOKEN_CASES.map((c) => tokenDoc(c.id, c.fields, world.sandboxUrl));
    // ids sort before the cases: on a server that pages the todo view in id order, a pilot that
    // skipped them would see a first page with nothing it can claim
    const loose = Array.from({ length: LOOSE_ZEROS }, (_, i) =>
      tokenDoc(
        `t_0loose_${String(i).padStart(2, '0')}`,
        { lock: i % 2 ? false : '', done: i % 3 ? '0' : '' },
        world.sandboxUrl,
      ),
    );
    const inserted = await world.picas.db.bulk({ docs: [...docs, ...loose] });
    expect(inserted.filter((r) => r.error)).toEqual([]);
    const revs = new Map(inserted.map((r) => [r.id, r.rev]));

    const log = join(world.dir, 'pilot.log');
    const result = await world.startPilot(['--json', '--log', log]);
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      claimed: number;
      done: number;
      failed: number;
      stoppedBy: string;
    };
    const count = (outcome: string) => TOKEN_CASES.filter((c) => c.outcome === outcome).length;
    expect(summary).toMatchObject({
      claimed: count('error') + count('done') + LOOSE_ZEROS,
      done: count('done') + LOOSE_ZEROS,
      failed: count('error'),
      stoppedBy: 'empty',
    });

    for (const c of TOKEN_CASES) {
      const token = await world.token(c.id);
      if (c.outcome === 'skipped') {
        expect(token._rev, c.name).toBe(revs.get(c.id));
        continue;
      }
      expect(token.status, c.name).toBe(c.outcome);
      expect(Number(token.done), c.name).toBeGreaterThan(0);
      const stdout = await text(world, c.id, 'stdout');
      if (c.outcome === 'done') {
        for (const part of c.expect) expect(stdout, c.name).toContain(part);
        continue;
      }
      const entry = (token.error as TokenErrorEntry[]).at(-1)!;
      for (const part of c.expect) expect(entry.message, c.name).toContain(part);
      // refused before the payload: it never ran
      if (c.id !== 't_payload_bytes') expect(stdout, c.name).toBe('');
    }
    for (const { _id } of loose) expect((await world.token(_id)).status).toBe('done');

    // bytes that are not UTF-8: the log attachment keeps them verbatim, the token stays valid JSON
    const bytes = await world.token('t_payload_bytes');
    const stderr = await getAttachment(world.picas, 't_payload_bytes', logAttachmentName(1, 'stderr'));
    expect(stderr.equals(NON_UTF8_STDERR)).toBe(true);
    expect((bytes.error as TokenErrorEntry[]).at(-1)?.stderr_tail).toMatch(/^bad .* bytes\n?$/);
    expect(bytes.exit_code).toBe(3);
    // a field holding a NUL is not exported, and the pilot says why
    expect(await text(world, 't_odd_values', 'pilot')).toContain('NULFIELD holds a NUL byte');
    // the shape errors carry LOFAR's token-error exit code
    expect((await world.token('t_cfg_number')).exit_code).toBe(-2);
    expect(await readFile(log, 'utf8')).toContain('pilot finished');

    // what no pilot could see, the doctor names; and it changes nothing while looking
    const before = await databaseFingerprint(world.db);
    const doctor = await lrt(
      ['doctor', '--type', TYPE, '--skip', 'proxy', '--skip', 'tools', '--skip', 'disk'],
      {
        env: world.env,
      },
    );
    expect(doctor.exitCode, doctor.stdout).toBe(1);
    const tokensLine = doctor.stdout.split('\n').find((l) => l.includes('tokens')) ?? '';
    expect(tokensLine).toMatch(/^FAIL/);
    for (const c of TOKEN_CASES.filter((t) => t.outcome === 'skipped')) expect(tokensLine).toContain(c.id);
    expect(await databaseFingerprint(world.db)).toBe(before);
  }, 120_000);
});
