import { parse as parseYaml } from 'yaml';
import { LrtError } from '../core';

/**
 * What a token exports to its payload, read from either generation of config:
 * `config.json.variables` (2019+, `"$ENV": "field"`) or a sandbox's legacy `tokvar.cfg`
 * (YAML, `field: $ENV`). Both become the same mapping; names are validated later.
 */
export interface TokenKeyMapping {
  /** Environment variable name, leading `$` removed. */
  env: string;
  /** Token field read verbatim (no dotted paths: `config.json` is itself a field name). */
  field: string;
  source: VariableSource;
}

export interface AttachmentMapping {
  attachment: string;
  /** Variable that receives the file name; absent when the config only asks for the file. */
  env?: string;
  source: VariableSource;
}

export type VariableSource = 'config.json' | 'tokvar.cfg';

export interface VariableMap {
  tokenKeys: TokenKeyMapping[];
  attachments: AttachmentMapping[];
  warnings: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const stripDollar = (name: string) => (name.startsWith('$') ? name.slice(1) : name);

/** Reads `config.json.variables` of a token (an object, or a JSON string some tools store). */
export function variablesFromConfig(configJson: unknown): VariableMap {
  const map: VariableMap = { tokenKeys: [], attachments: [], warnings: [] };
  let config = configJson;
  if (config === undefined || config === null) return map;
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch {
      map.warnings.push('config.json is a string that is not JSON: token variables ignored');
      return map;
    }
  }
  if (!isRecord(config)) {
    map.warnings.push('config.json is not an object: token variables ignored');
    return map;
  }
  const variables = config.variables;
  if (variables === undefined) return map;
  if (!isRecord(variables)) {
    map.warnings.push('config.json.variables is not an object: token variables ignored');
    return map;
  }
  for (const [section, value] of Object.entries(variables)) {
    if (section !== '_token_keys' && section !== '_attachments') continue;
    if (!isRecord(value)) {
      map.warnings.push(`config.json.variables.${section} is not an object: ignored`);
      continue;
    }
    for (const [name, target] of Object.entries(value)) {
      if (typeof target !== 'string') {
        map.warnings.push(`config.json.variables.${section}["${name}"] is not a string: skipped`);
        continue;
      }
      if (section === '_token_keys') {
        map.tokenKeys.push({ env: stripDollar(name), field: target, source: 'config.json' });
      } else {
        map.attachments.push({ attachment: target, env: stripDollar(name), source: 'config.json' });
      }
    }
  }
  return map;
}

/**
 * Parses a legacy `tokvar.cfg`. As the old launcher did, the attachment is saved under its own
 * name and only a `$NAME` value exports a variable; a plain value names no variable.
 * An unreadable file is the LOFAR "tokvar error" (exit -2).
 */
export function parseTokvar(text: string, fileName = 'tokvar.cfg'): VariableMap {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new LrtError(
      'E_CONFIG',
      `${fileName} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      {
        exitCode: -2,
        cause: err,
      },
    );
  }
  const map: VariableMap = { tokenKeys: [], attachments: [], warnings: [] };
  if (doc === null || doc === undefined) return map;
  if (!isRecord(doc)) {
    throw new LrtError('E_CONFIG', `${fileName} must be a YAML mapping of token field -> $VARIABLE`, {
      exitCode: -2,
    });
  }
  for (const [key, value] of Object.entries(doc)) {
    if (key === '_attachments') {
      if (value === null) continue;
      if (!isRecord(value)) {
        map.warnings.push(`${fileName}: _attachments is not a mapping: ignored`);
        continue;
      }
      for (const [attachment, target] of Object.entries(value)) {
        if (typeof target === 'string' && target.startsWith('$')) {
          map.attachments.push({ attachment, env: target.slice(1), source: 'tokvar.cfg' });
          continue;
        }
        if (typeof target === 'string' && target !== attachment) {
          map.warnings.push(
            `${fileName}: attachment "${attachment}" is saved under its own name, not "${target}" (as the old launcher did)`,
          );
        }
        map.attachments.push({ attachment, source: 'tokvar.cfg' });
      }
      continue;
    }
    if (typeof value !== 'string') {
      map.warnings.push(`${fileName}: "${key}" does not map to a $VARIABLE string: skipped`);
      continue;
    }
    map.tokenKeys.push({ env: stripDollar(value), field: key, source: 'tokvar.cfg' });
  }
  return map;
}
