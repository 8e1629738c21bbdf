/** The values XML-RPC carries, as JavaScript values. */
export type XmlRpcValue =
  | string
  | number
  | boolean
  | null
  | Date
  | Buffer
  | XmlRpcValue[]
  | { [member: string]: XmlRpcValue };

export type XmlRpcStruct = { [member: string]: XmlRpcValue };

/** A fault answer: the server ran the call and refused it. */
export class XmlRpcFault extends Error {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
  ) {
    super(`XML-RPC fault ${faultCode}: ${faultString}`);
    this.name = 'XmlRpcFault';
  }
}

/** A message that is not XML-RPC (broken XML, unknown type, missing parts). */
export class XmlRpcFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XmlRpcFormatError';
  }
}

export function isStruct(value: XmlRpcValue | undefined): value is XmlRpcStruct {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !Buffer.isBuffer(value)
  );
}

/** Sets a member as an own property, so a member named `__proto__` stays plain data. */
export function setMember(struct: XmlRpcStruct, name: string, value: XmlRpcValue): void {
  Object.defineProperty(struct, name, { value, enumerable: true, writable: true, configurable: true });
}
