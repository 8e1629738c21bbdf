import {
  isStruct,
  setMember,
  XmlRpcFault,
  XmlRpcFormatError,
  type XmlRpcStruct,
  type XmlRpcValue,
} from './values';
import { elementsOf, parseXml, textOf, type XmlElement, XmlSyntaxError } from './xml';

function fail(message: string): never {
  throw new XmlRpcFormatError(message);
}

function onlyChild(element: XmlElement, name: string): XmlElement {
  const children = elementsOf(element);
  const child = children[0];
  if (children.length !== 1 || !child || child.name !== name) {
    fail(
      `<${element.name}> must hold exactly one <${name}>, found ${children.map((c) => `<${c.name}>`).join(' ') || 'nothing'}`,
    );
  }
  return child;
}

const DATE_RE = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** `19980717T14:08:55` (no zone: read as UTC) or full ISO 8601. */
export function parseDateTime(text: string): Date {
  const m = DATE_RE.exec(text.trim());
  if (!m) fail(`"${text}" is not an XML-RPC dateTime.iso8601`);
  const zone = m[7] ?? 'Z';
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) fail(`"${text}" is not a valid date`);
  return date;
}

function parseInteger(text: string, type: string): number {
  const trimmed = text.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) fail(`<${type}> holds "${text}", not an integer`);
  const n = Number(trimmed);
  if (!Number.isSafeInteger(n)) fail(`<${type}> ${trimmed} is too large for a JavaScript number`);
  return n;
}

function parseDouble(text: string): number {
  const trimmed = text.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed))
    fail(`<double> holds "${text}", not a number`);
  return Number(trimmed);
}

function decodeStruct(element: XmlElement, depth: number): XmlRpcStruct {
  const struct: XmlRpcStruct = {};
  for (const member of elementsOf(element)) {
    if (member.name !== 'member') fail(`<struct> holds <${member.name}>, expected <member>`);
    const parts = elementsOf(member);
    const name = parts.find((p) => p.name === 'name');
    const value = parts.find((p) => p.name === 'value');
    if (!name || !value || parts.length !== 2) fail('a <member> needs one <name> and one <value>');
    setMember(struct, textOf(name), decodeValue(value, depth + 1));
  }
  return struct;
}

/** The JavaScript value of a `<value>` element. */
export function decodeValue(value: XmlElement, depth = 0): XmlRpcValue {
  if (value.name !== 'value') fail(`expected <value>, found <${value.name}>`);
  if (depth > 64) fail('values nested too deeply');
  const typed = elementsOf(value);
  // No type element: the text is a string (whitespace included).
  if (typed.length === 0) return textOf(value);
  if (typed.length > 1) fail('a <value> holds more than one element');
  const inner = typed[0]!;
  const text = textOf(inner);
  switch (inner.name) {
    case 'string':
      return text;
    case 'int':
    case 'i4':
    case 'i8':
      return parseInteger(text, inner.name);
    case 'boolean':
      if (text.trim() === '1') return true;
      if (text.trim() === '0') return false;
      return fail(`<boolean> holds "${text}", expected 0 or 1`);
    case 'double':
      return parseDouble(text);
    case 'nil':
      return null;
    case 'dateTime.iso8601':
      return parseDateTime(text);
    case 'base64':
      return Buffer.from(text.replace(/\s+/g, ''), 'base64');
    case 'array':
      return elementsOf(onlyChild(inner, 'data')).map((v) => decodeValue(v, depth + 1));
    case 'struct':
      return decodeStruct(inner, depth);
    default:
      return fail(`unknown XML-RPC type <${inner.name}>`);
  }
}

function parseDocument(xml: string): XmlElement {
  try {
    return parseXml(xml);
  } catch (err) {
    if (err instanceof XmlSyntaxError)
      throw new XmlRpcFormatError(`not well-formed XML: ${err.message}`, { cause: err });
    throw err;
  }
}

function decodeParams(params: XmlElement): XmlRpcValue[] {
  return elementsOf(params).map((param) => {
    if (param.name !== 'param') fail(`<params> holds <${param.name}>, expected <param>`);
    return decodeValue(onlyChild(param, 'value'));
  });
}

/**
 * The result of a `<methodResponse>`. A `<fault>` is thrown as XmlRpcFault; anything that is not
 * an XML-RPC response as XmlRpcFormatError.
 */
export function decodeMethodResponse(xml: string): XmlRpcValue {
  const root = parseDocument(xml);
  if (root.name !== 'methodResponse') fail(`expected <methodResponse>, found <${root.name}>`);
  const body = elementsOf(root);
  const first = body[0];
  if (body.length !== 1 || !first) fail('<methodResponse> must hold one <params> or one <fault>');
  if (first.name === 'fault') {
    const fault = decodeValue(onlyChild(first, 'value'));
    if (!isStruct(fault)) fail('a <fault> must hold a struct');
    const code = fault.faultCode;
    const message = fault.faultString;
    if (typeof code !== 'number' || typeof message !== 'string') {
      fail('a <fault> struct needs faultCode (int) and faultString (string)');
    }
    throw new XmlRpcFault(code, message);
  }
  if (first.name !== 'params') fail(`<methodResponse> holds <${first.name}>, expected <params> or <fault>`);
  const params = decodeParams(first);
  if (params.length !== 1) fail(`a response must hold exactly one <param>, found ${params.length}`);
  return params[0]!;
}

/** A `<methodCall>`: its method name and parameters (servers, and the test double). */
export function decodeMethodCall(xml: string): { method: string; params: XmlRpcValue[] } {
  const root = parseDocument(xml);
  if (root.name !== 'methodCall') fail(`expected <methodCall>, found <${root.name}>`);
  const parts = elementsOf(root);
  const name = parts.find((p) => p.name === 'methodName');
  if (!name) fail('<methodCall> has no <methodName>');
  const method = textOf(name).trim();
  if (method === '') fail('<methodName> is empty');
  const params = parts.find((p) => p.name === 'params');
  return { method, params: params ? decodeParams(params) : [] };
}
