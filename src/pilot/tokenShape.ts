import { LrtError } from '../core';
import type { TokenDoc } from '../picas/tokenDoc';

/*
 * Fields the pilot acts on, checked before anything runs. A token made by hand or by an older tool
 * can hold anything; a field of the wrong type must fail the token with its name, not be ignored
 * (a payload then runs without the variables it was promised) nor crash the pilot loop.
 * `stage_in`, `stage_out` and `upload` are checked by their own parsers (src/transfer/stageSpec).
 */

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const present = (v: unknown) => v !== undefined && v !== null;

/** `number 42`, `a list`, `string "abc"`: what a wrong value is, for messages. */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `string ${JSON.stringify(value.slice(0, 60))}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function configObject(raw: unknown, problems: string[]): Record<string, unknown> | undefined {
  if (!present(raw)) return undefined;
  let config = raw;
  if (typeof raw === 'string') {
    try {
      config = JSON.parse(raw);
    } catch {
      problems.push('config.json is a string that is not JSON');
      return undefined;
    }
  }
  if (!isRecord(config)) {
    problems.push(`config.json must be an object, got ${describeValue(config)}`);
    return undefined;
  }
  return config;
}

function checkVariables(config: Record<string, unknown>, problems: string[]): void {
  const variables = config.variables;
  if (!present(variables)) return;
  if (!isRecord(variables)) {
    problems.push(`config.json.variables must be an object, got ${describeValue(variables)}`);
    return;
  }
  for (const section of ['_token_keys', '_attachments']) {
    const mapping = variables[section];
    if (!present(mapping)) continue;
    if (!isRecord(mapping)) {
      problems.push(`config.json.variables.${section} must be an object, got ${describeValue(mapping)}`);
      continue;
    }
    for (const [name, target] of Object.entries(mapping)) {
      if (typeof target !== 'string') {
        problems.push(
          `config.json.variables.${section}["${name}"] must be a string, got ${describeValue(target)}`,
        );
      }
    }
  }
}

/** 0 keeps its old meaning, "the pilot's setting"; a negative or non-numeric limit is a mistake. */
function seconds(token: TokenDoc, field: 'timeout_s' | 'lease_s', problems: string[]): void {
  const value = token[field];
  if (!present(value)) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    problems.push(`${field} must be a number of seconds >= 0, got ${describeValue(value)}`);
  }
}

/** What is wrong with the fields the pilot reads; empty when nothing is. Pure. */
export function tokenShapeProblems(token: TokenDoc): string[] {
  const problems: string[] = [];
  const config = configObject(token['config.json'], problems);
  if (config) {
    checkVariables(config, problems);
    if (present(config.sandbox) && !isRecord(config.sandbox)) {
      problems.push(`config.json.sandbox must be an object, got ${describeValue(config.sandbox)}`);
    }
  }
  const sbx = token.SBXloc;
  if (present(sbx) && (typeof sbx !== 'string' || sbx.trim() === '')) {
    problems.push(`SBXloc must be a sandbox URL or path, got ${describeValue(sbx)}`);
  }
  seconds(token, 'timeout_s', problems);
  seconds(token, 'lease_s', problems);
  return problems;
}

/** Throws E_CONFIG with LOFAR's token-error exit code -2 when the token's fields are malformed. */
export function assertTokenShape(token: TokenDoc): void {
  const problems = tokenShapeProblems(token);
  if (problems.length === 0) return;
  throw new LrtError('E_CONFIG', `token ${token._id} is malformed: ${problems.join('; ')}`, {
    exitCode: -2,
    details: { token: token._id, problems },
  });
}
