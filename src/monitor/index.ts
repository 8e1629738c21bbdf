export { exitMeaning } from './exitMeanings';
export { type AttemptLogs, chooseLogs, knownAttempts, type LogChoice, listAttemptLogs } from './logs';
export { DEFAULT_MAX_DOCS, type ReadStatusOptions, readStatusInput } from './read';
export {
  progressBar,
  type RenderOptions,
  renderAttemptLogs,
  renderStatus,
  utc,
} from './render';
export {
  buildStatusReport,
  type FailingToken,
  failingToken,
  type StaleLease,
  type StatusInput,
  type StatusReport,
  staleLease,
  type TakenOverToken,
  takenOverToken,
} from './report';
export {
  attemptDurations,
  eta,
  finishTime,
  median,
  phaseDurations,
  phaseMedians,
  startTime,
  THROUGHPUT_WINDOW_S,
  type Throughput,
  throughput,
} from './stats';
export { readTokenPage, TOKEN_PAGE_MAX, type TokenPage, type TokenRow, tokenRow } from './tokens';
