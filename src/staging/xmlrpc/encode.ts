import { isStruct, type XmlRpcValue } from './values';
import { escapeText } from './xml';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const DECLARATION = '<?xml version="1.0"?>';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** XML-RPC's dateTime.iso8601 form, `19980717T14:08:55`, in UTC. */
export function formatDateTime(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new TypeError('cannot send an invalid Date over XML-RPC');
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

function encodeNumber(value: number): string {
  if (Number.isInteger(value)) {
    // Python's xmlrpc (and the spec's i4) refuses integers outside 32 bits.
    if (value < INT32_MIN || value > INT32_MAX) {
      throw new TypeError(`integer ${value} is outside the 32-bit range XML-RPC servers accept`);
    }
    return `<int>${value}</int>`;
  }
  if (!Number.isFinite(value)) throw new TypeError(`cannot send ${value} over XML-RPC`);
  return `<double>${value}</double>`;
}

/** The `<value>` element for a value. Throws TypeError for what XML-RPC cannot carry. */
export function encodeValue(value: XmlRpcValue, depth = 0): string {
  if (depth > 64) throw new TypeError('value nested too deeply for XML-RPC');
  if (value === null) return '<value><nil/></value>';
  switch (typeof value) {
    case 'string':
      return `<value><string>${escapeText(value)}</string></value>`;
    case 'number':
      return `<value>${encodeNumber(value)}</value>`;
    case 'boolean':
      return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  }
  if (value instanceof Date)
    return `<value><dateTime.iso8601>${formatDateTime(value)}</dateTime.iso8601></value>`;
  if (Buffer.isBuffer(value)) return `<value><base64>${value.toString('base64')}</base64></value>`;
  if (Array.isArray(value)) {
    return `<value><array><data>${value.map((v) => encodeValue(v, depth + 1)).join('')}</data></array></value>`;
  }
  if (isStruct(value)) {
    const members = Object.entries(value).map(
      ([name, v]) => `<member><name>${escapeText(name)}</name>${encodeValue(v, depth + 1)}</member>`,
    );
    return `<value><struct>${members.join('')}</struct></value>`;
  }
  throw new TypeError(`cannot send a ${typeof value} over XML-RPC`);
}

function encodeParams(params: readonly XmlRpcValue[]): string {
  return `<params>${params.map((p) => `<param>${encodeValue(p)}</param>`).join('')}</params>`;
}

/** The body of a call: `<methodCall>` with the method name and its parameters. */
export function encodeMethodCall(method: string, params: readonly XmlRpcValue[] = []): string {
  if (!/^[A-Za-z0-9_.:/]+$/.test(method)) throw new TypeError(`invalid XML-RPC method name "${method}"`);
  return `${DECLARATION}\n<methodCall><methodName>${method}</methodName>${encodeParams(params)}</methodCall>\n`;
}

/** A successful answer (servers, and the test double). */
export function encodeMethodResponse(result: XmlRpcValue): string {
  return `${DECLARATION}\n<methodResponse>${encodeParams([result])}</methodResponse>\n`;
}

/** A fault answer: `{faultCode, faultString}` inside `<fault>`. */
export function encodeFault(faultCode: number, faultString: string): string {
  return `${DECLARATION}\n<methodResponse><fault>${encodeValue({ faultCode, faultString })}</fault></methodResponse>\n`;
}
