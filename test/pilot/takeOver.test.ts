import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listAttachments } from '../../src/picas/attachments';
import { type PicasWrite, picasClose } from '../helpers/picasclientWorker';
import { createPilotWorld, demoTokens, waitFor } from '../helpers/pilotWorld';
import { CouchdbPythonDatabase, pyServerOf } from '../helpers/pythonClients';

/** A payload that records its pid, notes a TERM, and otherwise runs for a minute. */
const SLOW = `#!/usr/bin/env bash
echo $$ > "$DEMO_MARK.pid"
trap 'echo TERM >> "$DEMO_MARK.term"; exit 143' TERM
sleep 60 & wait $!
`;

describe('pilot whose token another tool takes (real processes)', () => {
  it('picasclient re-locks the running token: the pilot stops the payload, logs the take-over and writes nothing', async () => {
    const world = await createPilotWorld({
      type: 'taken',
      tokens: demoTokens('taken', 1),
      masterScript: SLOW,
    });
    const id = 't_taken_L1_SB000';
    const mark = join(world.dir, 'mark');
    const pilot = world.startPilot(['--lease', '6', '--max-tokens', '1'], { DEMO_MARK: mark });
    await waitFor(async () => (existsSync(`${mark}.pid`) ? true : undefined), 30_000, 'payload start');

    // picasclient's claim with a page of `todo` read before our claim: GET, new lock and host, PUT.
    const python = new CouchdbPythonDatabase(pyServerOf(world.db));
    const writes: PicasWrite[] = [];
    const picas = { db: python, designDoc: 'taken', hostname: 'picas-wn-7', workSeconds: 0, writes };
    const doc = await python.get(id);
    doc!.lock = Math.floor(Date.now() / 1000) + 1;
    doc!.hostname = 'picas-wn-7';
    const { rev } = await python.save(doc!);
    writes.push({ id, rev: rev!, kind: 'lock', hostname: 'picas-wn-7' });

    const result = await pilot;
    expect(result.exitCode, result.all).toBe(0);
    expect(existsSync(`${mark}.term`)).toBe(true);
    expect(result.all).toContain(`token ${id} taken over by another tool (lock changed by picas-wn-7)`);
    // Our pilot wrote nothing after the re-lock: no renewal, no finish, no logs.
    const afterPilot = await python.get(id);
    expect(afterPilot?._rev).toBe(rev);
    expect((await listAttachments(world.picas, id)).map((a) => a.name)).toEqual(['srm.txt']);

    // picasclient finishes it; the token carries picasclient's result only.
    await picasClose(picas, doc!);
    const final = await python.get(id);
    expect(final?._rev).toBe(writes.at(-1)?.rev);
    expect(final).toMatchObject({ exit_code: 0, hostname: 'picas-wn-7', status: 'locked' });
  });
});
