import { describe, expect, it } from 'vitest';
import { lrt } from '../helpers/cli';

/*
 * Usage mistakes of a first hour: a mistyped sub-command, a forgotten option. The error names
 * the wrong word or the missing flag and the help that lists the right ones, before anything
 * else is looked at (no database needed to be told a flag is missing).
 */

describe('usage errors name the mistake', () => {
  it('a mistyped sub-command of a group is named, with the commands of the group', async () => {
    const res = await lrt(['tokens', 'lst', '--type', 'demo']);
    expect(res.exitCode).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(
      'unknown command "tokens lst": the tokens commands are create, show, attach',
    );
    expect(res.stderr).toContain("Run 'lrt tokens --help'.");

    const json = await lrt(['views', 'lsit', '--json']);
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'E_USAGE' });
    expect(JSON.parse(json.stdout).error.message).toContain('unknown command "views lsit"');

    // The group alone, or with --help, still shows the group's help.
    expect((await lrt(['tokens', '--help'])).stdout).toContain('Usage: lrt tokens COMMAND');
    expect((await lrt(['tokens'])).stdout).toContain('Usage: lrt tokens COMMAND');
  });

  it('a missing option points at the help of the command itself, before the database is needed', async () => {
    const cases: [string[], string][] = [
      [
        ['tokens', 'set-status', '--type', 'demo', '--view', 'error'],
        "--status is required. Run 'lrt tokens set-status --help'.",
      ],
      [['tokens', 'delete', '--type', 'demo'], "--view is required. Run 'lrt tokens delete --help'."],
      [['tokens', 'list'], "--type is required. Run 'lrt tokens list --help'."],
      [
        ['views', 'add', '--type', 'demo', '--name', 'mine'],
        "--condition is required. Run 'lrt views add --help'.",
      ],
      [['views', 'remove', '--type', 'demo'], "--name is required. Run 'lrt views remove --help'."],
    ];
    for (const [args, message] of cases) {
      // No PICAS_URL: the flag is named first, not the missing server.
      const res = await lrt(args, { env: {} });
      expect(res.exitCode, args.join(' ')).toBe(2);
      expect(res.stderr, args.join(' ')).toContain(message);
    }
  });
});
