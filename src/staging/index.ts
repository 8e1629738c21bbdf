/** Tape staging: the LTA stager client (XML-RPC), SURL locality (gfal), staging-gated tokens. */
export { createStagerClient, type StageOptions, type StagerClient, type StagerClientOptions } from './client';
export { readCredentialFiles } from './credentialFiles';
export {
  type GatedCreateOptions,
  type GatedCreateReport,
  markStaging,
  STAGING_FIELD,
  STAGING_STATUS,
  submitAndMarkStaging,
  surlLines,
  surlsOfNewToken,
} from './gatedTokens';
export {
  detectLocalityRunner,
  type GfalOptions,
  type GfalTool,
  gfal2PythonRunner,
  gfalEnv,
  gfalXattrRunner,
  hasGfal2Binding,
  parseGfalTool,
  xattrOutcome,
} from './gfal';
export {
  type CheckLocalityOptions,
  checkLocality,
  DEFAULT_LOCALITY_CONCURRENCY,
  type FileLocality,
  isStaged,
  LOCALITY_SITES,
  type Locality,
  type LocalityDeps,
  type LocalityRunner,
  type LocalitySummary,
  localitySupported,
  type ProbeOutcome,
  summarizeLocality,
  unsupportedMessage,
} from './locality';
export {
  describeReleasePass,
  listStagingTokens,
  type ReleaseOptions,
  type ReleaseReport,
  type ReleaseVia,
  releaseStagedTokens,
  releaseToken,
  stagingTokenPages,
  type TokenWait,
  type WatchOptions,
  watchRelease,
} from './release';
export { releasePatch, requestIdsOf, tokenReadiness } from './releasePatch';
export {
  FINISHED_STATUSES,
  isFinishedStatus,
  parseProgress,
  parseRequestId,
  planStageRequests,
  progressTable,
  requestIdOf,
  type StageRequest,
} from './requests';
export {
  type CredentialLayer,
  credentialLayers,
  DEFAULT_MAX_SURLS_PER_REQUEST,
  DEFAULT_STAGER_TIMEOUT_MS,
  DEFAULT_STAGER_URL,
  parseEnvironmentCfg,
  parseStagingrc,
  resolveCredentials,
  resolveStagerSettings,
  type StagerCredentials,
  type StagerSettings,
  type StagerSettingsSources,
} from './settings';

/** The pilot gives a token back with this reason when its data is still on tape (exit code 22). */
export const NOT_STAGED_REASON = 'not staged';
export const NOT_STAGED_EXIT_CODE = 22;
export { type WaitOptions, type WaitResult, waitForRequest } from './wait';
