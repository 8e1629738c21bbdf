import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lrt, lrtProcess } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import {
  base64,
  docStatus,
  fixtureText,
  insertTokens,
  makeTokens,
  putTokenDesignDoc,
  readAllDocs,
  readToken,
} from '../helpers/tokens';

const TYPE = 'sksp_cli';

let t: TestDatabase;
let env: Record<string, string>;
let ids: Record<'todo' | 'locked' | 'running' | 'error', string[]>;

beforeEach(async () => {
  t = await createTestDatabase('lrt_tokcli');
  env = { PICAS_URL: t.serverUrl, PICAS_DB: t.name };
  await putTokenDesignDoc(t, TYPE);
  const logs = {
    'srm.txt': { content_type: 'text/plain', data: base64(fixtureText('srm_1_sara.txt')) },
    'run.log': { content_type: 'text/plain', data: base64('exit 1\n') },
  };
  const groups = {
    todo: makeTokens(TYPE, 6, 'todo', {}, 0),
    locked: makeTokens(TYPE, 2, 'locked', {}, 6),
    running: makeTokens(TYPE, 1, 'running', {}, 8),
    error: makeTokens(TYPE, 3, 'error', { _attachments: logs }, 9),
  };
  await insertTokens(t, Object.values(groups).flat());
  ids = {
    todo: groups.todo.map((d) => d._id),
    locked: groups.locked.map((d) => d._id),
    running: groups.running.map((d) => d._id),
    error: groups.error.map((d) => d._id),
  };
});
afterEach(async () => {
  await t.drop();
});

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

describe('lrt tokens list / overview', () => {
  it('prints the ids of a view, todo by default, at most --limit', async () => {
    const todo = await lrt(['tokens', 'list', '--type', TYPE], { env });
    expect(todo.exitCode).toBe(0);
    expect(lines(todo.stdout).sort()).toEqual(ids.todo);
    const error = await lrt(['tokens', 'list', '--type', TYPE, '--view', 'error'], { env });
    expect(lines(error.stdout).sort()).toEqual(ids.error);
    expect(
      lines((await lrt(['tokens', 'list', '--type', TYPE, '--limit', '2'], { env })).stdout),
    ).toHaveLength(2);
  });

  it('gives the documents with --json', async () => {
    const res = await lrt(['tokens', 'list', '--type', TYPE, '--view', 'locked', '--json'], { env });
    // NDJSON: one compact document a line
    const docs = res.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(docs.map((d: { _id: string }) => d._id).sort()).toEqual([...ids.locked, ...ids.running]);
    expect(docs.every((d: { type: string; lock: number }) => d.type === TYPE && d.lock > 0)).toBe(true);
  });

  it('exits 5 naming the views there when the view does not exist', async () => {
    const res = await lrt(['tokens', 'list', '--type', TYPE, '--view', 'failed'], { env });
    expect(res.exitCode).toBe(5);
    expect(res.stderr).toContain(`view "failed" not found in _design/${TYPE}`);
    expect(res.stderr).toMatch(/views there: .*error.*todo/);
    expect(res.stderr).not.toContain(t.password);
  });

  it('shows a table of counts per state and the total; --json gives the same', async () => {
    const res = await lrt(['tokens', 'overview', '--type', TYPE], { env });
    expect(res.exitCode).toBe(0);
    const table = Object.fromEntries(lines(res.stdout).map((l) => l.trim().split(/\s+/) as [string, string]));
    const total = Object.values(ids).flat().length;
    expect(table).toEqual({
      todo: String(ids.todo.length),
      locked: String(ids.locked.length),
      running: String(ids.running.length),
      done: '0',
      error: String(ids.error.length),
      staging: '0',
      total: String(total),
    });
    const json = JSON.parse((await lrt(['tokens', 'overview', '--type', TYPE, '--json'], { env })).stdout);
    expect(json.total).toBe(total);
    expect(json.counts.running).toBe(ids.running.length);
  });

  it('lrt tokens --help explains the token states, a config status such as queued included', async () => {
    const res = await lrtProcess(['tokens', '--help']);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain('tokens reset');
    expect(res.stdout).toMatch(/^ {2}todo {6}free \(lock=0, done=0\)/m);
    expect(res.stdout).toContain(`a config's own word such as "queued"; it is counted as todo`);
    for (const state of ['staging', 'locked', 'done', 'error'])
      expect(res.stdout).toMatch(new RegExp(`^  ${state} +`, 'm'));
  });

  it('exits 2 without --type and shows the options with --help', async () => {
    const missing = await lrt(['tokens', 'list'], { env });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('--type is required');
    const help = await lrt(['tokens', 'reset', '--help'], { env });
    expect(help.exitCode).toBe(0);
    for (const opt of [
      '--type',
      '--view',
      '--force',
      '--dry-run',
      '--drop-attachments',
      '--url',
      '--db',
      '--json',
    ]) {
      expect(help.stdout).toContain(opt);
    }
  });
});

describe('lrt tokens set-status / reset', () => {
  it('shows before -> after on --dry-run and writes nothing, then sets the status', async () => {
    const before = await readAllDocs(t);
    const dry = await lrt(
      ['tokens', 'set-status', '--type', TYPE, '--view', 'todo', '--status', 'locked', '--dry-run'],
      {
        env,
      },
    );
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(`would set status locked on ${ids.todo.length} tokens`);
    expect(dry.stdout).toContain(`${ids.todo[0]}  `);
    expect(dry.stdout).toContain('status: "todo" -> "locked"');
    expect(await readAllDocs(t)).toEqual(before);

    const res = await lrt(
      ['tokens', 'set-status', '--type', TYPE, '--view', 'todo', '--status', 'locked', '--json'],
      {
        env,
      },
    );
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ changed: ids.todo.length, failed: [], status: 'locked' });
    for (const id of ids.todo) expect((await readToken(t, id)).status).toBe('locked');
  });

  it('needs --view; --view locked resets only expired leases unless --force', async () => {
    const none = await lrtProcess(['tokens', 'reset', '--type', TYPE], { env });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('lrt: --view is required: which tokens to reset');
    // A pilot still running this one: its lease runs 10 more minutes.
    const now = Math.floor(Date.now() / 1000);
    const live = makeTokens(TYPE, 1, 'running', {}, 70).map((d) => ({
      ...d,
      lease: {
        id: 'lease-live',
        pilot: 'pilot-live',
        host: 'wn-live',
        expires: now + 600,
        renewed: now,
        attempt: 1,
      },
    }));
    await insertTokens(t, live);
    const liveId = live[0]!._id;
    const liveRev = (await readToken(t, liveId))._rev;

    const res = await lrtProcess(['tokens', 'reset', '--type', TYPE, '--view', 'locked'], { env });
    expect(res.exitCode, res.stderr).toBe(0);
    // The seeded locked and running tokens hold leases that expired long ago: their pilots died.
    expect(res.stdout).toContain(`reset: ${ids.locked.length + ids.running.length} tokens`);
    expect(res.stderr).toMatch(
      new RegExp(`kept: ${liveId}: leased to pilot pilot-live on wn-live for \\d+ s more`),
    );
    expect(res.stderr).toContain('1 token kept: pilots may still be running them');
    expect(res.stderr).toContain('--force resets them anyway');
    expect((await readToken(t, liveId))._rev).toBe(liveRev);
    for (const id of [...ids.locked, ...ids.running]) expect((await readToken(t, id)).status).toBe('todo');

    const forced = await lrtProcess(
      ['tokens', 'reset', '--type', TYPE, '--view', 'locked', '--force', '--json'],
      {
        env,
      },
    );
    expect(JSON.parse(forced.stdout)).toMatchObject({ changed: 1, held: [] });
    expect(await readToken(t, liveId)).toMatchObject({ status: 'todo', lock: 0 });
  });

  it('resets error tokens with --view, dropping logs on request', async () => {
    const locked = await lrt(['tokens', 'reset', '--type', TYPE, '--view', 'locked'], { env });
    expect(locked.exitCode).toBe(0);
    expect(locked.stdout).toContain(`reset: ${ids.locked.length + ids.running.length} tokens`);
    const res = await lrt(
      ['tokens', 'reset', '--type', TYPE, '--view', 'error', '--drop-attachments', '--json'],
      {
        env,
      },
    );
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ changed: ids.error.length, view: 'error', failed: [] });
    for (const id of [...ids.locked, ...ids.running, ...ids.error]) {
      expect(await readToken(t, id)).toMatchObject({ status: 'todo', lock: 0, done: 0, scrub_count: 1 });
    }
    for (const id of ids.error)
      expect(Object.keys((await readToken(t, id))._attachments ?? {})).toEqual(['srm.txt']);
  });

  it('exits 6 and names the tokens the server refused', async () => {
    const guard = {
      _id: '_design/guard',
      validate_doc_update: 'function (n, o) { if (o && o.frozen) throw({forbidden: "frozen token"}); }',
    };
    const frozen = makeTokens(TYPE, 1, 'error', { frozen: true }, 50);
    await insertTokens(t, [guard, ...frozen]);
    const res = await lrt(['tokens', 'reset', '--type', TYPE, '--view', 'error'], { env });
    expect(res.exitCode).toBe(6);
    expect(res.stdout).toContain(`reset: ${ids.error.length} tokens`);
    expect(res.stderr).toContain(`failed: ${frozen[0]!._id}: forbidden`);
  });
});

describe('lrt tokens delete / purge', () => {
  it('refuses to delete without --yes, saying how many tokens would go', async () => {
    const res = await lrt(['tokens', 'delete', '--type', TYPE, '--view', 'error'], { env });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain(
      `refusing to delete ${ids.error.length} tokens of type ${TYPE} in view error`,
    );
    expect(res.stderr).toContain('--yes');
    for (const id of ids.error) expect(await docStatus(t, id)).toBe(200);
  });

  it('lists with --dry-run and deletes with --yes', async () => {
    const dry = await lrt(['tokens', 'delete', '--type', TYPE, '--view', 'error', '--dry-run', '--json'], {
      env,
    });
    expect(JSON.parse(dry.stdout).ids.sort()).toEqual(ids.error);
    const res = await lrt(['tokens', 'delete', '--type', TYPE, '--view', 'error', '--yes'], { env });
    expect(res.exitCode).toBe(0);
    for (const id of ids.error) expect(await docStatus(t, id)).toBe(404);
    expect((await readAllDocs(t)).size).toBe(Object.values(ids).flat().length - ids.error.length);
  });

  it('purges the type and its design document only with --yes', async () => {
    const total = Object.values(ids).flat().length;
    const refused = await lrt(['tokens', 'purge', '--type', TYPE], { env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `refusing to delete ${total} tokens of type ${TYPE} and _design/${TYPE} and _design/claim:${TYPE}`,
    );
    expect((await readAllDocs(t)).size).toBe(total);

    const res = await lrt(['tokens', 'purge', '--type', TYPE, '--yes', '--batch-size', '5'], { env });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain(`purge: ${total} tokens`);
    expect(res.stdout).toContain('deleted');
    expect((await readAllDocs(t)).size).toBe(0);
    expect(await docStatus(t, `_design/${TYPE}`)).toBe(404);
    expect(await docStatus(t, `_design/claim:${TYPE}`)).toBe(404);
  });
});
