import { LrtError } from '../core';

/**
 * The options of an `lrt` command, declared once: the declaration gives node's parseArgs its
 * config, `--help` its option list, and the command its typed values (`ctx.options`).
 */
interface OptionBase {
  /** The help text, written by hand; it names the default where there is one. */
  description: string;
  short?: string;
  /** Shown in help: the placeholder for the value, e.g. FILE. */
  value?: string;
}

export interface BooleanOption extends OptionBase {
  type: 'boolean';
}

export interface StringOption extends OptionBase {
  type: 'string';
  multiple?: false;
  default?: string;
}

/** Repeatable: every occurrence, in order (none: []). */
export interface StringListOption extends OptionBase {
  type: 'string';
  multiple: true;
}

/** A whole number >= min (default 1), and <= max when given. */
export interface IntegerOption extends OptionBase {
  type: 'integer';
  min?: number;
  max?: number;
  default?: number;
}

/** A number of seconds, fractions allowed: >= min when given, else > 0. */
export interface SecondsOption extends OptionBase {
  type: 'seconds';
  min?: number;
  default?: number;
}

export type OptionSpec = BooleanOption | StringOption | StringListOption | IntegerOption | SecondsOption;
export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends BooleanOption
  ? boolean
  : S extends StringListOption
    ? string[]
    : S extends { type: 'integer' | 'seconds'; default: number }
      ? number
      : S extends { type: 'integer' | 'seconds' }
        ? number | undefined
        : S extends { default: string }
          ? string
          : string | undefined;

/** The typed values of a set of options: what a command reads from `ctx.options`. */
export type OptionValues<O extends OptionSpecs> = { -readonly [K in keyof O]: ValueOf<O[K]> };

/** Declares a set of options shared by several commands, keeping each option's own type. */
export function defineOptions<const O extends OptionSpecs>(options: O): O {
  return options;
}

/** What parseArgs returns for the options of a command. */
export type RawValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function parseArgsConfig(options: OptionSpecs) {
  return Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      {
        type: spec.type === 'boolean' ? ('boolean' as const) : ('string' as const),
        multiple: spec.type === 'string' && spec.multiple === true,
        ...(spec.short ? { short: spec.short } : {}),
      },
    ]),
  );
}

function integerValue(name: string, raw: string, min: number, max: number | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new LrtError('E_USAGE', `--${name} must be a whole number ${range}, got "${raw}"`);
  }
  return n;
}

function secondsValue(name: string, raw: string, min: number | undefined): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || (min === undefined ? n <= 0 : n < min)) {
    const bound = min === undefined ? '> 0' : `>= ${min}`;
    throw new LrtError('E_USAGE', `--${name} must be a number of seconds ${bound}, got "${raw}"`);
  }
  return n;
}

function typedValue(name: string, spec: OptionSpec, raw: RawValues[string]): unknown {
  switch (spec.type) {
    case 'boolean':
      return raw === true;
    case 'string':
      if (spec.multiple) return Array.isArray(raw) ? raw : [];
      return typeof raw === 'string' ? raw : spec.default;
    case 'integer':
      return typeof raw === 'string' ? integerValue(name, raw, spec.min ?? 1, spec.max) : spec.default;
    case 'seconds':
      return typeof raw === 'string' ? secondsValue(name, raw, spec.min) : spec.default;
  }
}

/** The option lines of a --help text: flag and value placeholder, then the description. */
export function optionHelpLines(options: OptionSpecs): string[] {
  return Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'boolean' ? '' : ` ${spec.value ?? 'VALUE'}`}`;
    const repeat = spec.type === 'string' && spec.multiple ? ' (repeatable)' : '';
    return `  ${flag.padEnd(26)}${spec.description}${repeat}`;
  });
}

/** The typed values of parsed arguments; a value of the wrong kind is an E_USAGE naming the option. */
export function optionValues<O extends OptionSpecs>(options: O, raw: RawValues): OptionValues<O> {
  return Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [name, typedValue(name, spec, raw[name])]),
  ) as OptionValues<O>;
}
