/** A small XML-RPC codec: what the LTA stager client and its test double need, no more. */
export { decodeMethodCall, decodeMethodResponse, decodeValue, parseDateTime } from './decode';
export { encodeFault, encodeMethodCall, encodeMethodResponse, encodeValue, formatDateTime } from './encode';
export { isStruct, XmlRpcFault, XmlRpcFormatError, type XmlRpcStruct, type XmlRpcValue } from './values';
export { parseXml, XmlSyntaxError } from './xml';
