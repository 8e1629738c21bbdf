import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands';
import { lrt, lrtProcess } from '../helpers/cli';
import { DIST_PILOT } from '../helpers/pilotWorld';

const ROOT = resolve(__dirname, '../..');

/* Every command says in --help what its --json prints, and every --json result is one object. */

const own = commands.filter((c) => !c.passthrough);

describe('--help documents the --json shape of every command', () => {
  it.each(own.map((c) => [c.path.join(' '), c] as const))('lrt %s --help', async (_name, command) => {
    const res = await lrt([...command.path, '--help']);
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain(
      command.jsonLines
        ? 'With --json, one JSON object per line on stdout (NDJSON):'
        : 'With --json, one JSON object on stdout:',
    );
    expect(command.json, 'json shape').toMatch(/^(\{|the token document)/);
  });

  it('shows the shape through dist/lrt.js as a user reads it', async () => {
    const res = await lrtProcess(['tokens', 'list', '--help']);
    expect(res.stdout).toMatch(
      /With --json, one JSON object per line on stdout \(NDJSON\):\n {2}\{_id, _rev, type, lock, done, status, \.\.\.\}: one token document per line, as the view is read\n/,
    );
  });
});

describe('--version', () => {
  it('lrt and pilot.js name the package version they were built from', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    // The commit is added when the build ran in a git checkout.
    const built = `${version.replaceAll('.', '\\.')}( \\([0-9a-f]{4,}\\))?`;
    const cli = await lrtProcess(['--version']);
    expect(cli.exitCode).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`^lrt \\(grid-lrt\\) ${built}$`));
    const pilot = await execa('node', [DIST_PILOT, '--version'], { reject: false });
    expect(pilot.exitCode).toBe(0);
    expect(pilot.stdout).toMatch(new RegExp(`^grid-lrt pilot ${built}$`));
    expect(pilot.stdout.slice('grid-lrt pilot '.length)).toBe(
      cli.stdout.trim().slice('lrt (grid-lrt) '.length),
    );
  });
});
