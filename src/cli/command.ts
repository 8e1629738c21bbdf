import { parseArgs } from 'node:util';
import { LrtError } from '../core';
import { EXIT_CODE_HELP } from './exitCodes';
import type { Output } from './output';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  short?: string;
  multiple?: boolean;
  /** Shown in help: the placeholder for the value, e.g. FILE. */
  value?: string;
}

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  out: Output;
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
}

export interface Command {
  /** Words after `lrt`, e.g. ['tokens', 'create']. */
  path: string[];
  summary: string;
  description?: string;
  options: Record<string, OptionSpec>;
  positionals?: PositionalSpec[];
  examples?: string[];
  /** The shape of the --json output, shown in --help (`{field, field: [...]}`). */
  json?: string;
  /** Hand every argument to run() untouched (commands with their own parser, e.g. `lrt pilot`). */
  passthrough?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'machine-readable JSON on stdout' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export function allOptions(command: Command): Record<string, OptionSpec> {
  return { ...command.options, ...COMMON_OPTIONS };
}

export function parseCommandArgs(command: Command, argv: string[]) {
  const options = allOptions(command);
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(
        Object.entries(options).map(([name, spec]) => [
          name,
          { type: spec.type, multiple: spec.multiple ?? false, ...(spec.short ? { short: spec.short } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
    return parsed as { values: CommandContext['values']; positionals: string[] };
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
  lines.push('', 'Options:');
  for (const [name, spec] of Object.entries(allOptions(command))) {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    const repeat = spec.multiple ? ' (repeatable)' : '';
    lines.push(`  ${flag.padEnd(26)}${spec.description}${repeat}`);
  }
  if (command.json) {
    lines.push('', 'With --json, one JSON object on stdout:');
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

/** Typed accessors so commands do not cast `values` by hand. */
export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function strs(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
}

export function flag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

export function int(ctx: CommandContext, name: string, fallback: number, min = 1): number {
  const v = str(ctx, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new LrtError('E_USAGE', `--${name} must be a whole number >= ${min}, got "${v}"`);
  }
  return n;
}
