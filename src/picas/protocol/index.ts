/*
 * The PiCaS token protocol (docs/protocol.md): one file per transition of a token, as a pure
 * function from the token read to the document to write (claim, reclaim, renew, finish, giveBack,
 * reset, setStatus, deleteToken), and the I/O that applies them safely on a single CouchDB and on
 * a cluster (claimToken, fencedUpdate).
 */

export type { AttemptRecord, Lease, TokenErrorEntry } from '../tokenDoc';
export {
  CACHED_CLAIM_PAGE_SIZE,
  type CandidateCache,
  LAZY_READ,
  newCandidateCache,
  shuffle,
  spreadTodoView,
  type TodoView,
  typeView,
  type ViewCursor,
  type ViewRef,
} from './candidates';
export { applyClaim, type ClaimInput, claimPatch } from './claim';
export {
  type ClaimEvent,
  type ClaimedToken,
  type ClaimOptions,
  claimToken,
} from './claimToken';
export { type ClaimWrite, writeClaim } from './claimWrite';
export { deletePatch } from './deleteToken';
export {
  type FencedPatch,
  type FencedResult,
  fencedUpdate,
  leaseLostError,
} from './fencedUpdate';
export { type FinishInput, finishPatch } from './finish';
export { type ReleaseInput, releasePatch } from './giveBack';
export {
  attemptsOf,
  isClaimable,
  LEASE_EXPIRED,
  type LeaseLost,
  leaseLength,
  leaseOf,
  MAX_ATTEMPT_RECORDS,
  MAX_ERROR_RECORDS,
  type Patched,
  PROTOCOL_STATUSES,
  type Skipped,
  STDERR_TAIL_CHARS,
  type TokenPatch,
} from './leaseRecord';
export { type BulkRow, deleteLeaf, type Written, writeAttachment, writeBulk, writeDoc } from './quorumWrite';
export { type ReclaimInput, type ReclaimResult, reclaimPatch } from './reclaim';
export { type HeartbeatInput, heartbeatPatch } from './renew';
export {
  attachmentsToDrop,
  type DropAttachments,
  isLogAttachment,
  type ResetOptions,
  resetPatch,
} from './reset';
export { setStatusPatch } from './setStatus';
export {
  lostToRival,
  type OwnWrite,
  readLeaves,
  settled,
  settleWrite,
  type WriteFate,
  writeBulkSettled,
  writeSettled,
} from './settleWrite';
