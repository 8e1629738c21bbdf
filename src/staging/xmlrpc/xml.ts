/**
 * A small XML reader for XML-RPC messages: elements, attributes (read and dropped), text, CDATA,
 * comments, processing instructions and the predefined and numeric entities. DOCTYPE and entity
 * declarations are refused outright, so no entity expansion (and no "billion laughs") can happen.
 */

export interface XmlElement {
  name: string;
  /** Text (entities decoded, CDATA as is) and child elements, in document order. */
  children: XmlNode[];
}

export type XmlNode = XmlElement | string;

export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at character ${offset})`);
    this.name = 'XmlSyntaxError';
  }
}

const NAME_RE = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const SPACE_RE = /[ \t\n]*/y;
const ENTITY_RE = /&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z]+));/g;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const MAX_DEPTH = 100;

function decodeEntities(raw: string, offset: number): string {
  if (!raw.includes('&')) return raw;
  const out = raw.replace(
    ENTITY_RE,
    (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
      if (name !== undefined) {
        const ch = PREDEFINED[name];
        if (ch === undefined) throw new XmlSyntaxError(`unknown entity ${whole}`, offset);
        return ch;
      }
      const code = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(dec!, 10);
      if (!Number.isSafeInteger(code) || code > 0x10ffff || code === 0) {
        throw new XmlSyntaxError(`invalid character reference ${whole}`, offset);
      }
      return String.fromCodePoint(code);
    },
  );
  // Any '&' left over did not start a well-formed reference.
  if (/&(?!(?:#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);)/.test(raw)) {
    throw new XmlSyntaxError('a bare "&" in text (it must be written &amp;)', offset);
  }
  return out;
}

/** Parses a whole document and returns its root element. Throws XmlSyntaxError. */
export function parseXml(input: string): XmlElement {
  // XML normalises line ends before parsing; &#13; survives as a carriage return.
  const text = input.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const document: XmlElement = { name: '#document', children: [] };
  const stack: XmlElement[] = [document];
  let root: XmlElement | undefined;
  let pos = 0;

  const top = () => stack[stack.length - 1]!;
  const skipSpace = () => {
    SPACE_RE.lastIndex = pos;
    SPACE_RE.exec(text);
    pos = SPACE_RE.lastIndex;
  };
  const readName = (): string => {
    NAME_RE.lastIndex = pos;
    const m = NAME_RE.exec(text);
    if (!m) throw new XmlSyntaxError('expected a name', pos);
    pos = NAME_RE.lastIndex;
    return m[0];
  };
  const until = (marker: string, what: string): number => {
    const end = text.indexOf(marker, pos);
    if (end < 0) throw new XmlSyntaxError(`unterminated ${what}`, pos);
    return end;
  };
  const addText = (value: string, at: number) => {
    if (value === '') return;
    if (stack.length === 1) {
      if (/[^ \t\n]/.test(value)) throw new XmlSyntaxError('text outside the root element', at);
      return;
    }
    top().children.push(value);
  };

  while (pos < text.length) {
    const lt = text.indexOf('<', pos);
    if (lt < 0) {
      addText(decodeEntities(text.slice(pos), pos), pos);
      break;
    }
    if (lt > pos) addText(decodeEntities(text.slice(pos, lt), pos), pos);
    pos = lt;
    if (text.startsWith('<!--', pos)) {
      pos += 4;
      pos = until('-->', 'comment') + 3;
    } else if (text.startsWith('<![CDATA[', pos)) {
      if (stack.length === 1) throw new XmlSyntaxError('CDATA outside the root element', pos);
      pos += 9;
      const end = until(']]>', 'CDATA section');
      top().children.push(text.slice(pos, end));
      pos = end + 3;
    } else if (text.startsWith('<?', pos)) {
      pos += 2;
      pos = until('?>', 'processing instruction') + 2;
    } else if (text.startsWith('<!', pos)) {
      throw new XmlSyntaxError('DOCTYPE and entity declarations are not accepted', pos);
    } else if (text.startsWith('</', pos)) {
      pos += 2;
      const name = readName();
      skipSpace();
      if (text[pos] !== '>') throw new XmlSyntaxError(`expected ">" to close </${name}`, pos);
      pos += 1;
      const open = top();
      if (stack.length === 1 || open.name !== name) {
        throw new XmlSyntaxError(`</${name}> does not close <${open.name}>`, pos);
      }
      stack.pop();
    } else {
      pos += 1;
      const element: XmlElement = { name: readName(), children: [] };
      let selfClosing = false;
      for (;;) {
        const before = pos;
        skipSpace();
        if (text.startsWith('/>', pos)) {
          pos += 2;
          selfClosing = true;
          break;
        }
        if (text[pos] === '>') {
          pos += 1;
          break;
        }
        if (pos === before) throw new XmlSyntaxError(`malformed tag <${element.name}`, pos);
        readName();
        skipSpace();
        if (text[pos] !== '=')
          throw new XmlSyntaxError(`expected "=" in an attribute of <${element.name}>`, pos);
        pos += 1;
        skipSpace();
        const quote = text[pos];
        if (quote !== '"' && quote !== "'")
          throw new XmlSyntaxError('expected a quoted attribute value', pos);
        pos += 1;
        const end = until(quote, 'attribute value');
        if (text.slice(pos, end).includes('<')) throw new XmlSyntaxError('"<" in an attribute value', pos);
        pos = end + 1;
      }
      if (stack.length === 1) {
        if (root) throw new XmlSyntaxError('more than one root element', pos);
        root = element;
      }
      top().children.push(element);
      if (!selfClosing) {
        if (stack.length > MAX_DEPTH) throw new XmlSyntaxError('elements nested too deeply', pos);
        stack.push(element);
      }
    }
  }
  if (stack.length > 1) throw new XmlSyntaxError(`<${top().name}> is never closed`, pos);
  if (!root) throw new XmlSyntaxError('no root element', pos);
  return root;
}

/** The child elements of an element (text between them is dropped). */
export function elementsOf(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => typeof c !== 'string');
}

/** The text directly inside an element, joined. */
export function textOf(element: XmlElement): string {
  return element.children.filter((c): c is string => typeof c === 'string').join('');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
// Characters XML 1.0 cannot carry at all, not even as references.
const UNREPRESENTABLE = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

/** Escapes text for element content. Throws for characters XML 1.0 cannot represent. */
export function escapeText(value: string): string {
  const bad = UNREPRESENTABLE.exec(value);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(4, '0');
    throw new XmlSyntaxError(`character U+${code} cannot be sent in XML`, bad.index);
  }
  return value.replace(/[&<>\r]/g, (ch) => ESCAPES[ch]!);
}
