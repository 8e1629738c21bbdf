import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { getAttachment, listAttachments } from '../../src/picas/attachments';
import { logAttachmentName } from '../../src/picas/logNames';
import type { TokenErrorEntry } from '../../src/picas/protocol';
import { resetView } from '../../src/picas/viewOps';
import { createPilotWorld, demoTokens, waitFor } from '../helpers/pilotWorld';
import { maliciousCases, writeTar } from '../helpers/tarFixtures';

/** A payload that records its pid, then waits long; TERM is noted in a file. */
const SLOW = `#!/usr/bin/env bash
echo $$ > "$DEMO_MARK.pid"
if [ -n "\${QUICK_WHEN:-}" ] && [ -e "$QUICK_WHEN" ]; then echo "second run"; exit 0; fi
[ -n "\${QUICK_WHEN:-}" ] && touch "$QUICK_WHEN"
trap 'echo TERM >> "$DEMO_MARK.term"; exit 143' TERM
echo "working on $TOKEN"
sleep 60 & wait $!
`;

async function attachmentNames(world: Awaited<ReturnType<typeof createPilotWorld>>, id: string) {
  return (await listAttachments(world.picas, id)).map((a) => a.name).sort();
}

describe('pilot under faults (real processes, embedded server)', () => {
  it('SIGTERM: stops the payload, gives the token back to todo with scrub_count+1 and the logs, exits 143', async () => {
    const world = await createPilotWorld({
      type: 'sigterm',
      tokens: demoTokens('sigterm', 1),
      masterScript: SLOW,
    });
    const mark = join(world.dir, 'mark');
    const pilot = world.startPilot([], { DEMO_MARK: mark });
    await waitFor(async () => (existsSync(`${mark}.pid`) ? true : undefined), 30_000, 'payload start');
    pilot.kill('SIGTERM');
    const result = await pilot;
    expect(result.exitCode, result.all).toBe(143);
    expect(existsSync(`${mark}.term`)).toBe(true);

    const token = await world.token('t_sigterm_L1_SB000');
    expect(token.status).toBe('todo');
    expect(token.lock).toBe(0);
    expect(token.done).toBe(0);
    expect(token.scrub_count).toBe(1);
    expect(token.lease).toBeUndefined();
    expect(String(token.launcher_status)).toContain('signal');
    expect(await attachmentNames(world, token._id)).toEqual([
      'attempt-1.pilot.log',
      'attempt-1.stderr.log',
      'attempt-1.stdout.log',
      'srm.txt',
    ]);
    const stdout = await getAttachment(world.picas, token._id, logAttachmentName(1, 'stdout'));
    expect(stdout.toString()).toContain('working on t_sigterm_L1_SB000');
  });

  it('a batch cancel (scancel) signals the payload a moment before the pilot: the token still goes back to todo', async () => {
    const world = await createPilotWorld({
      type: 'cancelled',
      tokens: demoTokens('cancelled', 1),
      masterScript: SLOW,
    });
    const mark = join(world.dir, 'mark');
    const pilot = world.startPilot([], { DEMO_MARK: mark });
    await waitFor(async () => (existsSync(`${mark}.pid`) ? true : undefined), 30_000, 'payload start');
    const payloadPid = Number((await readFile(`${mark}.pid`, 'utf8')).trim());
    process.kill(-payloadPid, 'SIGTERM');
    await waitFor(async () => (existsSync(`${mark}.term`) ? true : undefined), 10_000, 'payload TERM');
    await sleep(300);
    pilot.kill('SIGTERM');
    const result = await pilot;
    expect(result.exitCode, result.all).toBe(143);
    const token = await world.token('t_cancelled_L1_SB000');
    expect({ status: token.status, lock: token.lock, done: token.done }).toEqual({
      status: 'todo',
      lock: 0,
      done: 0,
    });
    expect(String(token.launcher_status)).toContain('signal');
  });

  it('a payload that dies of SIGTERM while the pilot is not stopping: the token is an error with exit 143', async () => {
    const world = await createPilotWorld({
      type: 'selfterm',
      tokens: demoTokens('selfterm', 1),
      masterScript: SLOW,
    });
    const mark = join(world.dir, 'mark');
    const pilot = world.startPilot(['--max-tokens', '1'], { DEMO_MARK: mark });
    await waitFor(async () => (existsSync(`${mark}.pid`) ? true : undefined), 30_000, 'payload start');
    const payloadPid = Number((await readFile(`${mark}.pid`, 'utf8')).trim());
    process.kill(-payloadPid, 'SIGTERM');
    await pilot;
    const token = await world.token('t_selfterm_L1_SB000');
    expect({ status: token.status, exit_code: token.exit_code }).toEqual({ status: 'error', exit_code: 143 });
  });

  it('kill -9 mid-payload: another pilot reclaims the token after its lease expires and finishes it', async () => {
    const world = await createPilotWorld({
      type: 'killed',
      tokens: demoTokens('killed', 1),
      masterScript: SLOW,
    });
    const mark = join(world.dir, 'mark');
    const env = { DEMO_MARK: mark, QUICK_WHEN: join(world.dir, 'first-run') };
    const first = world.startPilot(['--lease', '3'], env);
    await waitFor(async () => (existsSync(`${mark}.pid`) ? true : undefined), 30_000, 'payload start');
    first.kill('SIGKILL');
    await first;
    // The batch system would kill the orphaned payload with the job: do the same.
    const payloadPid = Number((await readFile(`${mark}.pid`, 'utf8')).trim());
    try {
      process.kill(-payloadPid, 'SIGKILL');
    } catch {}

    const second = await world.startPilot(
      ['--lease', '3', '--wait', '--poll', '0.5', '--max-tokens', '1'],
      env,
    );
    expect(second.exitCode, second.all).toBe(0);
    const token = await world.token('t_killed_L1_SB000');
    expect(token.status).toBe('done');
    expect(token.scrub_count).toBe(1);
    const attempts = token.attempts as { n: number; reason?: string; exit?: number }[];
    expect(attempts.map((a) => a.n)).toEqual([1, 2]);
    expect(attempts[0]?.reason).toContain('lease expired');
    expect(attempts[1]?.exit).toBe(0);
  });

  it('lease lost: a reset while the payload runs stops it, and the pilot writes nothing to the token', async () => {
    const world = await createPilotWorld({ type: 'lost', tokens: demoTokens('lost', 1), masterScript: SLOW });
    const mark = join(world.dir, 'mark');
    const pilot = world.startPilot(['--lease', '3', '--max-tokens', '1'], { DEMO_MARK: mark });
    await waitFor(async () => (existsSync(`${mark}.pid`) ? true : undefined), 30_000, 'payload start');
    const reset = await resetView(world.picas, 'lost', 'locked');
    expect(reset.changed).toBe(1);
    const afterReset = await world.token('t_lost_L1_SB000');
    const result = await pilot;
    expect(result.exitCode, result.all).toBe(0);
    expect(existsSync(`${mark}.term`)).toBe(true);
    const token = await world.token('t_lost_L1_SB000');
    expect(token._rev).toBe(afterReset._rev);
    expect(token.status).toBe('todo');
    expect(await attachmentNames(world, token._id)).toEqual(['srm.txt']);
  });

  it('timeout, failing master.sh, and a sandbox without master.sh end in error with reasons and logs', async () => {
    const failing = `#!/usr/bin/env bash
echo "some output"
if [ "$STARTSB" = "000" ]; then sleep 30; fi
echo "bad things happened in $STARTSB" >&2
exit 3
`;
    const tokens = [
      ...demoTokens('fails', 2),
      ...demoTokens('fails', 1).map((t) => ({ ...t, id: 't_fails_nomaster' })),
    ];
    tokens[0]!.fields = { ...tokens[0]!.fields, timeout_s: 1 };
    const world = await createPilotWorld({ type: 'fails', tokens, masterScript: failing });
    const noMaster = join(world.dir, 'no-master.tar.gz');
    await writeTar(
      noMaster,
      [
        { path: 'bin/', type: 'dir' },
        { path: 'bin/README', body: 'x' },
      ],
      { gzip: true },
    );
    const nm = await world.token('t_fails_nomaster');
    await world.picas.db.insert({ ...nm, SBXloc: `file://${noMaster}` });

    const result = await world.startPilot();
    expect(result.exitCode, result.all).toBe(0);

    const timedOut = await world.token('t_fails_L1_SB000');
    expect(timedOut.status).toBe('error');
    expect((timedOut.error as TokenErrorEntry[])[0]?.message).toContain('timed out after 1 s');

    const failed = await world.token('t_fails_L1_SB001');
    expect(failed.status).toBe('error');
    expect(failed.output).toBe(3);
    expect(failed.exit_code).toBe(3);
    const entry = (failed.error as TokenErrorEntry[])[0]!;
    expect(entry.phase).toBe('running');
    expect(entry.stderr_tail).toContain('bad things happened in 001');
    const stderr = await getAttachment(world.picas, failed._id, logAttachmentName(1, 'stderr'));
    expect(stderr.toString()).toBe('bad things happened in 001\n');
    const stdout = await getAttachment(world.picas, failed._id, logAttachmentName(1, 'stdout'));
    expect(stdout.toString()).toBe('some output\n');

    const missing = await world.token('t_fails_nomaster');
    expect(missing.status).toBe('error');
    expect(missing.output).toBe(127);
    expect((missing.error as TokenErrorEntry[])[0]?.message).toContain('master.sh');
  });

  it('refuses every malicious sandbox of the corpus: token in error naming the entry, nothing written outside', async () => {
    const world = await createPilotWorld({ type: 'evil', tokens: [] });
    const outside = join(world.dir, 'outside');
    await mkdir(outside);
    const cases = maliciousCases(outside);
    const docs = [];
    for (const [i, c] of cases.entries()) {
      const file = join(world.dir, `evil-${i}.tar`);
      await writeTar(file, c.entries);
      docs.push({
        _id: `t_evil_${i}`,
        type: 'evil',
        lock: 0,
        done: 0,
        status: 'todo',
        SBXloc: `file://${file}`,
      });
    }
    // Limits of the bomb cases are test-only; the pilot's defaults refuse only real bombs.
    const { bulkCreateTokens } = await import('../../src/picas/bulkCreate');
    await bulkCreateTokens(
      world.picas,
      'evil',
      docs.filter((_, i) => !cases[i]!.limits).map((d) => ({ id: d._id, fields: { SBXloc: d.SBXloc } })),
    );
    const result = await world.startPilot();
    expect(result.exitCode, result.all).toBe(0);
    for (const [i, c] of cases.entries()) {
      if (c.limits) continue;
      const token = await world.token(`t_evil_${i}`);
      expect(token.status, c.name).toBe('error');
      const message = (token.error as TokenErrorEntry[])[0]?.message ?? '';
      expect(message, c.name).toContain(c.culprit);
    }
    expect(await readdir(outside)).toEqual([]);
  });

  it('dry run: runs one token locally, prints what it would write, changes nothing', async () => {
    const world = await createPilotWorld({ type: 'dry', tokens: demoTokens('dry', 1) });
    const before = await world.token('t_dry_L1_SB000');
    const result = await world.startPilot(['--token', 't_dry_L1_SB000', '--dry-run']);
    expect(result.exitCode, result.all).toBe(0);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      wouldWrite: Record<string, unknown>;
      jobDir: string;
    };
    expect(report.ok).toBe(true);
    expect(report.wouldWrite.status).toBe('done');
    expect(report.wouldWrite.exit_code).toBe(0);
    expect(existsSync(join(report.jobDir, 'work', 'Output', 'summary.txt'))).toBe(true);
    const after = await world.token('t_dry_L1_SB000');
    expect(after._rev).toBe(before._rev);
    expect(await world.ledgerLines()).toEqual(['t_dry_L1_SB000']);
    expect(report).not.toHaveProperty('notClaimable');

    // Once the token is done, a dry run still runs it, and says a pilot would not claim it.
    expect((await world.startPilot(['--token', 't_dry_L1_SB000'])).exitCode).toBe(0);
    const done = await world.startPilot(['--token', 't_dry_L1_SB000', '--dry-run']);
    const doneReport = JSON.parse(done.stdout) as {
      wouldWrite: Record<string, unknown>;
      notClaimable?: string;
    };
    expect(doneReport.wouldWrite).toEqual({});
    expect(doneReport.notClaimable).toMatch(/^token t_dry_L1_SB000 .*: a pilot would not claim it$/);
  });

  it('credentials: a world-readable --credentials file is refused; the legacy DB USER PWD TYPE form warns', async () => {
    const world = await createPilotWorld({ type: 'creds', tokens: demoTokens('creds', 1) });
    const file = join(world.dir, 'picas.cred');
    await writeFile(file, `user=${world.db.user}\npassword=${world.db.password}\n`, { mode: 0o644 });
    const { PICAS_URL, ...envWithoutUrl } = world.env;
    const url = new URL(PICAS_URL ?? '');
    url.username = '';
    url.password = '';
    const open = await world.startPilot(['--credentials', file, '--url', url.toString()], {
      ...envWithoutUrl,
      PICAS_URL: '',
    });
    expect(open.exitCode).toBe(2);
    expect(open.stderr).toContain('chmod 600');
    expect(open.all).not.toContain(world.db.password);

    const legacy = await world.startPilotRaw(
      [
        world.db.name,
        world.db.user,
        world.db.password,
        'creds',
        '--url',
        url.toString(),
        '--workdir',
        join(world.dir, 'w'),
        '--log',
        join(world.dir, 'pilot.log'),
      ],
      { ...envWithoutUrl, PICAS_URL: '' },
    );
    expect(legacy.exitCode, legacy.all).toBe(0);
    const log = await readFile(join(world.dir, 'pilot.log'), 'utf8');
    expect(log).toContain('visible in the process list');
    expect(log).not.toContain(world.db.password);
    expect((await world.token('t_creds_L1_SB000')).status).toBe('done');
  });
});
