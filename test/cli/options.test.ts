import { describe, expect, it } from 'vitest';
import { commandHelp, defineCommand } from '../../src/cli/command';
import { commands } from '../../src/cli/commands';
import { EXIT } from '../../src/cli/exitCodes';
import { defineOptions, optionValues } from '../../src/cli/options';
import { runCli } from '../../src/cli/run';
import { isLrtError } from '../../src/core';
import { lrt } from '../helpers/cli';

/* One declaration per command gives parseArgs its config, --help its option list and run() typed values. */

const OPTIONS = defineOptions({
  name: { type: 'string', value: 'NAME', description: 'a name' },
  host: { type: 'string', default: '127.0.0.1', description: 'a host (default 127.0.0.1)' },
  tag: { type: 'string', multiple: true, description: 'a tag' },
  dry: { type: 'boolean', description: 'change nothing' },
  count: { type: 'integer', default: 1, description: 'how many (default 1)' },
  port: { type: 'integer', min: 0, description: 'a port' },
  interval: { type: 'seconds', default: 30, description: 'seconds between polls (default 30)' },
});

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isLrtError(err, 'E_USAGE'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('no error thrown');
}

describe('optionValues', () => {
  it('gives each option its declared type, and the declared default when it is not given', () => {
    const none = optionValues(OPTIONS, {});
    expect(none).toEqual({
      name: undefined,
      host: '127.0.0.1',
      tag: [],
      dry: false,
      count: 1,
      port: undefined,
      interval: 30,
    });
    const given = optionValues(OPTIONS, {
      name: 'x',
      host: '0.0.0.0',
      tag: ['a', 'b'],
      dry: true,
      count: '7',
      port: '0',
      interval: '0.5',
    });
    expect(given).toEqual({
      name: 'x',
      host: '0.0.0.0',
      tag: ['a', 'b'],
      dry: true,
      count: 7,
      port: 0,
      interval: 0.5,
    });
  });

  it.each([
    ['count', '0', '--count must be a whole number >= 1, got "0"'],
    ['count', '2.5', '--count must be a whole number >= 1, got "2.5"'],
    ['port', '-1', '--port must be a whole number >= 0, got "-1"'],
    ['port', 'http', '--port must be a whole number >= 0, got "http"'],
    ['interval', '0', '--interval must be a number of seconds > 0, got "0"'],
    ['interval', 'soon', '--interval must be a number of seconds > 0, got "soon"'],
  ])('--%s %s is a usage error naming the option', (name, raw, message) => {
    expect(usageError(() => optionValues(OPTIONS, { [name]: raw }))).toBe(message);
  });
});

describe('a command declared once', () => {
  const echo = defineCommand({
    path: ['echo'],
    summary: 'prints its options',
    json: '{options}',
    options: OPTIONS,
    async run(ctx) {
      // typed: count is a number, tag a string[]; no cast
      const sum: number = ctx.options.count + (ctx.options.port ?? 0);
      ctx.out.result({ options: ctx.options, sum, tags: ctx.options.tag.join('+') });
      return EXIT.ok;
    },
  });

  async function run(args: string[]) {
    let stdout = '';
    let stderr = '';
    const exitCode = await runCli([echo], args, {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env: {},
      cwd: process.cwd(),
      home: '/nonexistent-home',
    });
    return { exitCode, stdout, stderr };
  }

  it('runs with the typed values', async () => {
    const res = await run(['echo', '--json', '--count', '3', '--port', '4', '--tag', 'a', '--tag', 'b']);
    expect(res.exitCode).toBe(EXIT.ok);
    const out = JSON.parse(res.stdout);
    expect(out.sum).toBe(7);
    expect(out.tags).toBe('a+b');
    expect(out.options.host).toBe('127.0.0.1');
  });

  it('refuses a bad value with exit 2 before run, and shows help even with one', async () => {
    const bad = await run(['echo', '--count', 'many']);
    expect(bad.exitCode).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--count must be a whole number >= 1, got "many"');
    expect(bad.stdout).toBe('');
    const help = await run(['echo', '--count', 'many', '--help']);
    expect(help.exitCode).toBe(EXIT.ok);
    expect(help.stdout).toContain('Usage: lrt echo [options]');
  });

  it('lists every declared option in --help: value placeholder, repeatable, common options', () => {
    const help = commandHelp(echo);
    expect(help).toMatch(/\n {2}--name NAME +a name\n/);
    expect(help).toMatch(/\n {2}--tag VALUE +a tag \(repeatable\)\n/);
    expect(help).toMatch(/\n {2}--dry +change nothing\n/);
    expect(help).toMatch(/\n {2}--count VALUE +how many \(default 1\)\n/);
    expect(help).toMatch(/\n {2}-h, --help +show this help\n/);
  });
});

describe('the lrt commands', () => {
  it('name in --help every default they declare', () => {
    const unnamed: string[] = [];
    for (const command of commands) {
      for (const [name, spec] of Object.entries(command.options)) {
        if (!('default' in spec) || spec.default === undefined) continue;
        if (!spec.description.includes(String(spec.default))) {
          unnamed.push(`lrt ${command.path.join(' ')} --${name}: default ${spec.default}`);
        }
      }
    }
    expect(unnamed).toEqual([]);
  });

  it('refuse a malformed number with exit 2 and the option named, before doing anything', async () => {
    const res = await lrt(['db', 'serve', '--nodes', 'two']);
    expect(res.exitCode).toBe(EXIT.usage);
    expect(res.stderr).toContain('--nodes must be a whole number >= 1, got "two"');
    const port = await lrt(['db', 'serve', '--json', '--port=-5']);
    expect(port.exitCode).toBe(EXIT.usage);
    expect(JSON.parse(port.stdout).error).toMatchObject({
      code: 'E_USAGE',
      message: '--port must be a whole number from 0 to 65535, got "-5"',
    });
  });
});
