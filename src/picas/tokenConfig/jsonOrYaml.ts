import { parseDocument } from 'yaml';
import { LrtError } from '../../core';

/** Which parser read a config file. */
export type ConfigSyntax = 'json' | 'yaml';

export interface ParsedConfig {
  value: unknown;
  syntax: ConfigSyntax;
  /** Parser warnings (YAML: unresolved tags ...), already prefixed with the file name. */
  warnings: string[];
}

export interface LineColumn {
  line: number;
  column: number;
}

/** 1-based line and column of a UTF-16 offset, as editors show them. */
export function lineColumnAt(text: string, offset: number): LineColumn {
  const end = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Where JSON.parse says it stopped. V8 wording changes between Node releases ("at position N",
 * "(line X column Y)", or neither), so only these two shapes are read and anything else is
 * reported without a position.
 */
export function jsonErrorPosition(message: string, text: string): LineColumn | undefined {
  const lc = /line (\d+) column (\d+)/i.exec(message);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  const pos = /position (\d+)/i.exec(message);
  if (pos) return lineColumnAt(text, Number(pos[1]));
  return undefined;
}

/** `.json` files and text that starts with `{` are JSON; everything else (`.cfg`, `.yaml`) is YAML. */
export function configSyntaxOf(fileName: string, text: string): ConfigSyntax {
  if (/\.json$/i.test(fileName)) return 'json';
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

function positionError(
  fileName: string,
  what: string,
  cause: string,
  at: LineColumn | undefined,
  err: unknown,
): LrtError {
  const where = at ? `${fileName}:${at.line}:${at.column}` : fileName;
  const position = at ? ` at line ${at.line}, column ${at.column}` : '';
  return new LrtError('E_CONFIG', `${where}: token config is not valid ${what}${position}: ${cause}`, {
    cause: err,
    details: { file: fileName, ...(at ?? {}) },
  });
}

function parseJson(text: string, fileName: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw positionError(fileName, 'JSON', message, jsonErrorPosition(message, text), err);
  }
}

function parseYamlText(text: string, fileName: string): { value: unknown; warnings: string[] } {
  // YAML 1.2 core schema: `000` -> 0 and `True` -> true as PyYAML read GRID_LRT's files, while
  // dates and `yes`/`no` stay strings instead of turning into Date objects or booleans.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    throw positionError(fileName, 'YAML', first.message, lineColumnAt(text, first.pos[0]), first);
  }
  const warnings = doc.warnings.map((w) => {
    const at = lineColumnAt(text, w.pos[0]);
    return `${fileName}:${at.line}:${at.column}: ${w.message}`;
  });
  try {
    return { value: doc.toJS({ maxAliasCount: 1000 }), warnings };
  } catch (err) {
    // unresolved aliases and alias bombs surface only while converting
    const message = err instanceof Error ? err.message : String(err);
    throw new LrtError('E_CONFIG', `${fileName}: token config is not valid YAML: ${message}`, {
      cause: err,
      details: { file: fileName },
    });
  }
}

/** Throws E_CONFIG when a value cannot be stored in CouchDB as it is (YAML sets, NaN ...). */
function assertPlainJson(value: unknown, path: string, fileName: string): void {
  const fail = (why: string) => {
    throw new LrtError('E_CONFIG', `${fileName}: ${path || 'the document'} ${why}`, {
      details: { file: fileName },
    });
  };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(`is ${value}, which JSON cannot hold`);
    return;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) assertPlainJson(item, `${path}[${i}]`, fileName);
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      if (key === '__proto__') fail(`holds the key "__proto__", which is not allowed`);
      assertPlainJson(item, path ? `${path}.${key}` : key, fileName);
    }
    return;
  }
  fail(`is not a JSON value (${Object.prototype.toString.call(value).slice(8, -1)})`);
}

/**
 * Parses the text of a token config. Errors are E_CONFIG naming the file and, when the parser
 * says where, `file:line:column`.
 */
export function parseConfigText(text: string, fileName: string): ParsedConfig {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const syntax = configSyntaxOf(fileName, body);
  const parsed =
    syntax === 'json' ? { value: parseJson(body, fileName), warnings: [] } : parseYamlText(body, fileName);
  assertPlainJson(parsed.value, '', fileName);
  return { value: parsed.value, syntax, warnings: parsed.warnings };
}
