/** Movers: fetch/put/stat/checksum per URL scheme (gsiftp, srm, https/davs, file), adler32. */

export {
  Adler32,
  adler32,
  adler32File,
  adler32Tap,
  formatAdler32,
  normalizeAdler32,
  updateFromFile,
} from './adler32';
export { classifyGfalExit, classifyGridStderr, type FailureKind, safeUrl, stderrTail } from './failure';
export { fileMover, localPathOf } from './file';
export { globusUrlCopyArgs, parseGfalLsLine, parseGfalSum } from './gridArgs';
export { gsiftpMover } from './gsiftp';
export { httpMover } from './http';
export { adler32FromDigest, type ContentRange, parseContentRange, toHttpUrl } from './httpParts';
export { partPathFor } from './local';
export { checksumUrl, fetchUrl, MOVERS, moverFor, putUrl, schemeOf, statUrl } from './movers';
export { srmMover, srmToGsiftp } from './srm';
export { DEFAULT_GFAL_PYTHON, TOOL_PACKAGES, toolEnv } from './tools';
export type {
  ChecksumAlgorithm,
  FetchResult,
  GridTool,
  Mover,
  PutResult,
  StatResult,
  ToolPaths,
  TransferOptions,
} from './types';
