import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lrt } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/couch';
import { errorToken, seedStatusTokens } from '../helpers/statusSeed';

/*
 * Counts of one, as a user meets them on a first small campaign: "1 token", "1 row", "1 view",
 * "1 attempt", never "1 tokens" or "1 attempt(s)".
 */

let t: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  t = await createTestDatabase('lrt_wording');
  env = { PICAS_URL: t.serverUrl, PICAS_DB: t.name };
  await seedStatusTokens(t, 'failed1', [
    errorToken('failed1', 't_failed1_a', { time: 1_700_000_500, phase: 'running', exit: 3, message: 'boom' }),
  ]);
});
afterAll(() => t.drop());

const PLURAL_OF_ONE = /\b1 (tokens|rows|views|attempts|ids)\b|\b1 \w+\(s\)/;

describe('counts of one are singular', () => {
  it('tokens create --dry-run, views add, views clear, tokens update', async () => {
    const dry = await lrt(['tokens', 'create', '--type', 'single', '--id-suffix', 'a', '--dry-run'], { env });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('dry run: 1 token of type single would be created');
    expect(dry.stdout).toContain('t_single_a\n');

    expect((await lrt(['tokens', 'create', '--type', 'single', '--id-suffix', 'a'], { env })).exitCode).toBe(
      0,
    );
    const added = await lrt(['views', 'add', '--type', 'single', '--name', 'all', '--condition', 'true'], {
      env,
    });
    expect(added.exitCode).toBe(0);
    expect(added.stdout).toMatch(/index built in [\d.]+ s \(1 row\)/);
    const cleared = await lrt(['views', 'clear', '--type', 'single'], { env });
    expect(cleared.stdout).toContain('removed 1 view from _design/views:single: all');

    const updated = await lrt(['tokens', 'update', '--type', 'single', '--set', 'x=1'], { env });
    expect(updated.stdout).toContain('update: 1 token of type single (');
    for (const r of [dry, added, cleared, updated]) expect(r.stdout).not.toMatch(PLURAL_OF_ONE);
  });

  it('status of a token that failed once', async () => {
    const status = await lrt(['status', '--type', 'failed1'], { env });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/\[running, exit 3 \(.*\), 1 attempt\]/);
    expect(status.stdout).toMatch(/Median attempt \S+ over 1 attempt\n/);
    expect(status.stdout).not.toMatch(PLURAL_OF_ONE);
  });
});
