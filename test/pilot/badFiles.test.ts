import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPilotWorld, demoTokens } from '../helpers/pilotWorld';

/*
 * A pilot given a file it cannot use (a log in a folder that does not exist, a credentials file
 * that is not there): one line naming the flag, the file and why, exit 2 (usage), no stack trace.
 */

describe('pilot: --log and --credentials files it cannot use', () => {
  it('exits 2 with one line naming the flag and the file', async () => {
    const world = await createPilotWorld({ type: 'badfiles', tokens: [] });
    const noFolder = join(world.dir, 'no-such-folder', 'pilot.log');
    const log = await world.startPilot(['--log', noFolder]);
    expect(log.exitCode).toBe(2);
    expect(log.stderr).toBe(`pilot: cannot open --log ${noFolder}: its folder does not exist`);

    const missing = join(world.dir, 'picas.cred');
    const credentials = await world.startPilot(['--credentials', missing]);
    expect(credentials.exitCode).toBe(2);
    expect(credentials.stderr).toBe(`pilot: --credentials ${missing}: cannot read it: no such file`);
  });

  it('a --workdir it cannot make is refused before a token is claimed (none is left locked)', async () => {
    const world = await createPilotWorld({ type: 'badwork', tokens: demoTokens('badwork', 2) });
    const file = join(world.dir, 'a-file');
    await writeFile(file, 'not a folder\n');
    const result = await world.startPilotRaw(['--type', 'badwork', '--workdir', join(file, 'jobs')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      `pilot: cannot use the work dir ${join(file, 'jobs')} (--workdir): a part of its path is not a folder`,
    );
    for (const id of ['t_badwork_L1_SB000', 't_badwork_L1_SB001']) {
      expect(await world.token(id)).toMatchObject({ lock: 0, done: 0 });
    }
  });
});

describe('pilot: a view that is not there', () => {
  it('names what is missing: the view in a design document that exists, or the design document', async () => {
    const world = await createPilotWorld({ type: 'badview', tokens: demoTokens('badview', 1) });
    const noView = await world.startPilot(['--view', 'nope']);
    expect(noView.exitCode, noView.all).toBe(1);
    expect(noView.stderr).toContain(
      "_design/badview has no view named nope; 'lrt views list --type badview' lists the views there",
    );
    expect(noView.stderr).not.toContain('create the views of token type');
    // The start line says which build of pilot.js runs (src/core/version.ts).
    expect(noView.all).toMatch(/"version":"\d+\.\d+\.\d+[^"]*","msg":"pilot started"/);

    const noType = await world.startPilotRaw(['--type', 'nosuchtype']);
    expect(noType.exitCode).toBe(1);
    expect(noType.stderr).toContain(
      '_design/nosuchtype does not exist: create the views of token type nosuchtype first',
    );
    expect(await world.token('t_badview_L1_SB000')).toMatchObject({ lock: 0, done: 0 });
  });
});
