/**
 * A small reader of the ClassAd syntax JDL files use: `[ attr = expr; ... ]` with strings, numbers,
 * booleans, lists `{...}`, nested ads, function calls and the usual operators. It checks syntax
 * (balanced brackets, `attr = value;` statements, string quoting) and returns the literal values,
 * so tests can read a generated JDL back. Not an evaluator.
 */

export type ClassAdValue = string | number | boolean | ClassAdValue[] | { expr: string };

export interface ClassAdProblem {
  line: number;
  column: number;
  message: string;
}

export type ClassAdResult =
  | { ok: true; attributes: Record<string, ClassAdValue> }
  | { ok: false; problems: ClassAdProblem[] };

interface Token {
  kind: 'string' | 'number' | 'name' | 'op' | 'end';
  text: string;
  value?: string | number;
  at: number;
}

class SyntaxProblem extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

const OPERATORS = [
  '=?=',
  '=!=',
  '>>>',
  '<<',
  '>>',
  '<=',
  '>=',
  '==',
  '!=',
  '&&',
  '||',
  ...'[]{}(),;=<>+-*/%!?:.&|^~',
];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith('//', i) || c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxProblem(i, 'unterminated /* comment');
      i = end + 2;
    } else if (c === '"') {
      const start = i++;
      let value = '';
      for (;;) {
        if (i >= text.length || text[i] === '\n') throw new SyntaxProblem(start, 'unterminated string');
        const ch = text[i]!;
        if (ch === '"') break;
        if (ch === '\\') {
          const next = text[i + 1];
          if (next === undefined) throw new SyntaxProblem(i, 'unterminated string');
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          i += 2;
        } else {
          value += ch;
          i++;
        }
      }
      i++;
      tokens.push({ kind: 'string', text: text.slice(start, i), value, at: start });
    } else if (/[0-9]/.test(c)) {
      const m = /^(?:0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?)/i.exec(text.slice(i))!;
      tokens.push({ kind: 'number', text: m[0], value: Number(m[0]), at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'name', text: m[0], at: i });
      i += m[0].length;
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (!op) throw new SyntaxProblem(i, `unexpected character ${JSON.stringify(c)}`);
      tokens.push({ kind: 'op', text: op, at: i });
      i += op.length;
    }
  }
  tokens.push({ kind: 'end', text: 'end of file', at: text.length });
  return tokens;
}

const BINARY = [
  ['||'],
  ['&&'],
  ['|'],
  ['^'],
  ['&'],
  ['==', '!=', '=?=', '=!='],
  ['<', '<=', '>', '>='],
  ['<<', '>>', '>>>'],
  ['+', '-'],
  ['*', '/', '%'],
];
const CLOSERS: Record<string, string> = { '[': ']', '{': '}', '(': ')' };

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
  ) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    return this.tokens[this.pos++]!;
  }
  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === text;
  }
  private expect(text: string, why: string): Token {
    const t = this.peek();
    if (t.kind !== 'op' || t.text !== text)
      throw new SyntaxProblem(t.at, `expected "${text}" ${why}, found ${t.text}`);
    return this.next();
  }

  /** `[ name = expr ; ... ]`; the last `;` is optional. */
  classAd(): Record<string, ClassAdValue> {
    const open = this.expect('[', 'to open the ClassAd');
    const attributes: Record<string, ClassAdValue> = {};
    const seen = new Map<string, number>();
    while (!this.isOp(']')) {
      const name = this.next();
      if (name.kind === 'end') throw new SyntaxProblem(open.at, '"[" is never closed');
      if (name.kind !== 'name')
        throw new SyntaxProblem(name.at, `expected an attribute name, found ${name.text}`);
      const key = name.text.toLowerCase();
      if (seen.has(key)) throw new SyntaxProblem(name.at, `attribute ${name.text} is defined twice`);
      seen.set(key, name.at);
      this.expect('=', `after attribute ${name.text}`);
      attributes[name.text] = this.expression();
      if (this.isOp(']')) break;
      this.expect(';', `after the value of ${name.text}`);
    }
    this.next();
    return attributes;
  }

  expression(): ClassAdValue {
    const start = this.peek().at;
    const value = this.ternary();
    const end = this.tokens[this.pos - 1]!;
    return value ?? { expr: this.text.slice(start, end.at + end.text.length) };
  }

  /** Returns the literal value when the expression is one literal, else undefined. */
  private ternary(): ClassAdValue | undefined {
    const value = this.binary(0);
    if (!this.isOp('?')) return value;
    this.next();
    this.binary(0);
    this.expect(':', 'in a ? : expression');
    this.ternary();
    return undefined;
  }

  private binary(level: number): ClassAdValue | undefined {
    if (level >= BINARY.length) return this.unary();
    let value = this.binary(level + 1);
    while (this.peek().kind === 'op' && BINARY[level]!.includes(this.peek().text)) {
      this.next();
      this.binary(level + 1);
      value = undefined;
    }
    return value;
  }

  private unary(): ClassAdValue | undefined {
    if (['!', '-', '+', '~'].some((op) => this.isOp(op))) {
      const op = this.next().text;
      const v = this.unary();
      return op === '-' && typeof v === 'number' ? -v : undefined;
    }
    return this.postfix();
  }

  private postfix(): ClassAdValue | undefined {
    let value = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.next();
        const t = this.next();
        if (t.kind !== 'name')
          throw new SyntaxProblem(t.at, `expected an attribute name after ".", found ${t.text}`);
        value = undefined;
      } else if (this.isOp('[') && value === undefined) {
        const open = this.next();
        this.ternary();
        this.closing(open, ']');
      } else return value;
    }
  }

  private closing(open: Token, closer: string): void {
    const t = this.peek();
    if (t.kind === 'op' && t.text === closer) {
      this.next();
      return;
    }
    if (t.kind === 'end') throw new SyntaxProblem(open.at, `"${open.text}" is never closed`);
    throw new SyntaxProblem(t.at, `expected "${closer}" to close "${open.text}", found ${t.text}`);
  }

  private primary(): ClassAdValue | undefined {
    const t = this.next();
    if (t.kind === 'string' || t.kind === 'number') return t.value!;
    if (t.kind === 'name') {
      const lower = t.text.toLowerCase();
      if (this.isOp('(')) {
        const open = this.next();
        if (!this.isOp(')')) {
          this.ternary();
          while (this.isOp(',')) {
            this.next();
            this.ternary();
          }
        }
        this.closing(open, ')');
        return undefined;
      }
      if (lower === 'true' || lower === 'false') return lower === 'true';
      return undefined;
    }
    if (t.kind === 'op' && t.text === '(') {
      this.ternary();
      this.closing(t, ')');
      return undefined;
    }
    if (t.kind === 'op' && t.text === '{') {
      const items: ClassAdValue[] = [];
      let literal = true;
      if (!this.isOp('}')) {
        for (;;) {
          const v = this.ternary();
          if (v === undefined) literal = false;
          else items.push(v);
          if (!this.isOp(',')) break;
          this.next();
        }
      }
      this.closing(t, CLOSERS['{']!);
      return literal ? items : undefined;
    }
    if (t.kind === 'op' && t.text === '[') {
      this.pos--;
      this.classAd();
      return undefined;
    }
    throw new SyntaxProblem(
      t.at,
      t.kind === 'end' ? 'unexpected end of file in a value' : `unexpected ${t.text} in a value`,
    );
  }

  atEnd(): void {
    const t = this.peek();
    if (t.kind !== 'end') throw new SyntaxProblem(t.at, `unexpected ${t.text} after the closing "]"`);
  }
}

function position(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, column: at - before.lastIndexOf('\n') };
}

/** Checks a JDL (one ClassAd); on success returns its attributes with literal values read. */
export function parseClassAd(text: string): ClassAdResult {
  try {
    const parser = new Parser(tokenize(text), text);
    const attributes = parser.classAd();
    parser.atEnd();
    return { ok: true, attributes };
  } catch (err) {
    if (!(err instanceof SyntaxProblem)) throw err;
    return { ok: false, problems: [{ ...position(text, err.at), message: err.message }] };
  }
}
