import { describe, expect, it } from 'vitest';
import { createPilotWorld, demoTokens } from '../helpers/pilotWorld';

/* The pilot's log lines as a user reads them: `--log-format pretty|json`, pretty on a terminal. */

describe('pilot log format', () => {
  it('off a terminal: one JSON object per line, each key once', async () => {
    const world = await createPilotWorld({ type: 'logjson', tokens: demoTokens('logjson', 1) });
    const result = await world.startPilot([]);
    expect(result.exitCode, result.all).toBe(0);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(typeof entry.pilot).toBe('string');
      // JSON.parse keeps the last of repeated keys: count them in the text.
      expect(line.match(/"pilot":/g), line).toHaveLength(1);
    }
    expect(lines.some((line) => line.includes('"msg":"pilot finished"'))).toBe(true);
  });

  it('--log-format pretty: readable lines, the pilot id not repeated on each', async () => {
    const world = await createPilotWorld({ type: 'logpretty', tokens: demoTokens('logpretty', 1) });
    const result = await world.startPilot(['--log-format', 'pretty']);
    expect(result.exitCode, result.all).toBe(0);
    const lines = result.stderr.split('\n').filter(Boolean);
    for (const line of lines) expect(line).toMatch(/^\d\d:\d\d:\d\d (INFO|WARN|ERROR|DEBUG) /);
    expect(result.stderr).toMatch(/INFO +claimed .*token=t_logpretty_L1_SB000/);
    expect(result.stderr).toMatch(/INFO +pilot finished +claimed=1 done=1/);
    expect(result.stderr).not.toContain('{"level"');
  });

  it('refuses an unknown format, and says what the default is in --help', async () => {
    const world = await createPilotWorld({ type: 'logbad', tokens: [] });
    const bad = await world.startPilot(['--log-format', 'xml']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--log-format must be pretty or json, got "xml"');
    const help = await world.startPilotRaw(['--help']);
    expect(help.stdout).toMatch(/--log-format pretty\|json +.*default: pretty on a terminal, else json/);
  });

  it('refuses an unknown --log-level with a usage error naming the levels, not a stack trace', async () => {
    const world = await createPilotWorld({ type: 'loglevel', tokens: [] });
    const bad = await world.startPilot(['--log-level', 'loud']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(
      '--log-level must be one of trace, debug, info, warn, error, silent, got "loud"',
    );
    expect(bad.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});
