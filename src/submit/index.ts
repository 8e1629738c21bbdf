export { type ClassAdProblem, type ClassAdResult, type ClassAdValue, parseClassAd } from './classad';
export { CREDENTIALS_FILE, credentialsText, writeCredentialsFile } from './credentials';
export {
  classAdString,
  JDL_FLAVOURS,
  type JdlFlavour,
  type JdlOptions,
  jdlDescription,
  PILOT_FILE,
  START_SCRIPT,
  startScript,
} from './jdl';
export {
  countStates,
  type JobState,
  type JobStatus,
  parseArcStatus,
  parseDiracStatus,
  parseGliteStatus,
  parseSacct,
  parseSqueue,
} from './jobStates';
export { cancelJobs, type JobsStatus, jobsStatus, type PilotLog, pilotLogs, submissionFolders } from './jobs';
export {
  type LocalPilotResult,
  type LocalPilotsOptions,
  localPilotCommand,
  runLocalPilots,
} from './local';
export {
  assertNoCredentialsInUrl,
  PASSED_PILOT_OPTIONS,
  type PilotLaunch,
  parseWalltime,
  pilotArgs,
  shellQuote,
  slurmTime,
} from './pilotArgs';
export {
  assertPilot,
  assertPrivateFile,
  type CredentialsSource,
  type JdlJob,
  jdlFor,
  placeCredentials,
  placeSharedCredentials,
  type SlurmJob,
  sharedCredentialsPath,
  slurmFor,
  writeJdlJob,
  writeSlurmJob,
} from './prepare';
export { unreachableFromWorkers } from './reachable';
export { ensureNodeRuntime, NODE_RUNTIME, type NodeRuntime, RUNTIME_FILE, runtimeCacheDir } from './runtime';
export { type SlurmOptions, sbatchDirectives, slurmScript } from './slurm';
export {
  readSubmission,
  SUBMISSION_FILE,
  type Submission,
  type SubmissionBackend,
  writeSubmission,
} from './submission';
export {
  haveTool,
  JDL_SUBMITTERS,
  parseArcJobIds,
  parseJobIds,
  runSubmitter,
  type SubmitOutcome,
  type Submitter,
  submitterArgs,
  toolOf,
} from './tools';
