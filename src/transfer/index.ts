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
export { EXIT_NO_SRM_LIST, inputFileName, parseInputList, stageInUrls } from './inputList';
export { partPathFor } from './local';
export { checksumUrl, fetchUrl, MOVERS, moverFor, putUrl, schemeOf, statUrl } from './movers';
export {
  classifyNotStaged,
  isRetryable,
  type RetryOutcome,
  withRetries,
} from './retry';
export { srmMover, srmToGsiftp } from './srm';
export {
  EXIT_DOWNLOAD_FAILED,
  EXIT_NOT_STAGED,
  type StagedFile,
  type StageInOptions,
  type StageInProgress,
  type StageInResult,
  stageIn,
} from './stageIn';
export {
  resultsFields,
  stageOutFiles,
  type UploadResult,
  type UploadResultsOptions,
  uploadResults,
} from './stageOut';
export {
  parseStageIn,
  parseUpload,
  planStageOut,
  type StageInSpec,
  type StageOutPlan,
  type UploadSpec,
  uploadDestination,
} from './stageSpec';
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
export { expandTemplate, formatUploadDate, type TokenFields, tokenKeysOf } from './uploadTemplate';
export { EXIT_DESTINATION_EXISTS, EXIT_NO_OUTPUT, EXIT_UPLOAD_FAILED } from './uploadVerified';
