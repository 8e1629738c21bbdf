import { parseArgs } from 'node:util';
import { LrtError } from '../core';
import { EXIT_CODE_HELP } from './exitCodes';
import {
  defineOptions,
  type OptionSpecs,
  type OptionValues,
  optionHelpLines,
  parseArgsConfig,
  type RawValues,
} from './options';
import type { Output } from './output';

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
}

export interface CommandContext<O extends OptionSpecs = OptionSpecs> {
  /** The command's options, typed by its declaration. */
  options: OptionValues<O>;
  positionals: string[];
  out: Output;
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
  /** The command's words after `lrt` (`tokens set-status`), for "Run 'lrt ... --help'". */
  command: string;
}

export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** Words after `lrt`, e.g. ['tokens', 'create']. */
  path: string[];
  summary: string;
  description?: string;
  options: O;
  positionals?: PositionalSpec[];
  examples?: string[];
  /** The shape of the --json output, shown in --help (`{field, field: [...]}`). */
  json?: string;
  /** --json prints one such object per line (NDJSON), not one object. */
  jsonLines?: boolean;
  /** Hand every argument to run() untouched (commands with their own parser, e.g. `lrt pilot`). */
  passthrough?: boolean;
  run(ctx: CommandContext<O>): Promise<number>;
}

/**
 * The context of any command whose options include these values: for a helper that several
 * commands share, e.g. `ContextWith<{ type?: string }>`.
 */
export type ContextWith<V> = CommandContext & { options: V };

/** The value of a string option the command cannot do without; missing, a usage error naming it. */
export function requiredOption<K extends string>(
  ctx: ContextWith<{ [name in K]?: string }>,
  name: K,
): string {
  const value = ctx.options[name];
  if (value === undefined || value === '') {
    throw new LrtError('E_USAGE', `--${name} is required. Run 'lrt ${ctx.command} --help'.`);
  }
  return value;
}

/** A command whose `run` reads its options typed as `options` declares them. */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command;
}

const COMMON_OPTIONS = defineOptions({
  json: { type: 'boolean', description: 'machine-readable JSON on stdout' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
});

export function allOptions(command: Command): OptionSpecs {
  return { ...command.options, ...COMMON_OPTIONS };
}

export function parseCommandArgs(command: Command, argv: string[]) {
  const options = allOptions(command);
  try {
    const parsed = parseArgs({
      args: argv,
      options: parseArgsConfig(options),
      allowPositionals: true,
      strict: true,
    });
    return parsed as { values: RawValues; positionals: string[] };
  } catch (err) {
    throw new LrtError('E_USAGE', `${(err as Error).message}\nRun 'lrt ${command.path.join(' ')} --help'.`);
  }
}

export function checkPositionals(command: Command, positionals: string[]): void {
  const specs = command.positionals ?? [];
  const required = specs.filter((p) => !p.optional).length;
  if (positionals.length < required) {
    const missing = specs.slice(positionals.length).map((p) => p.name.toUpperCase());
    throw new LrtError(
      'E_USAGE',
      `missing ${missing.join(' ')}\nRun 'lrt ${command.path.join(' ')} --help'.`,
    );
  }
  if (positionals.length > specs.length) {
    throw new LrtError(
      'E_USAGE',
      `unexpected argument "${positionals[specs.length]}"\nRun 'lrt ${command.path.join(' ')} --help'.`,
    );
  }
}

export function commandHelp(command: Command): string {
  const positionals = (command.positionals ?? [])
    .map((p) => (p.optional ? `[${p.name.toUpperCase()}]` : p.name.toUpperCase()))
    .join(' ');
  const lines = [`Usage: lrt ${command.path.join(' ')} [options]${positionals ? ` ${positionals}` : ''}`, ''];
  lines.push(command.summary);
  if (command.description) lines.push('', command.description);
  if (command.positionals?.length) {
    lines.push('', 'Arguments:');
    for (const p of command.positionals) lines.push(`  ${p.name.toUpperCase().padEnd(26)}${p.description}`);
  }
  lines.push('', 'Options:', ...optionHelpLines(allOptions(command)));
  if (command.json) {
    lines.push(
      '',
      command.jsonLines
        ? 'With --json, one JSON object per line on stdout (NDJSON):'
        : 'With --json, one JSON object on stdout:',
    );
    for (const line of command.json.split('\n')) lines.push(`  ${line}`);
    lines.push('On failure: {"error": {code, message, ...details}} and the exit code below.');
  }
  if (command.examples?.length) {
    lines.push('', 'Examples:');
    for (const example of command.examples) lines.push(`  ${example}`);
  }
  lines.push('', EXIT_CODE_HELP);
  return lines.join('\n');
}
