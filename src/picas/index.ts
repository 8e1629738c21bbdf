/** PiCaS on CouchDB: settings, tokens, views, the claim / lease / fenced-update protocol. */

export { openAttachmentStream } from './attachmentStream';
export {
  type AddAttachmentResult,
  type AttachmentInfo,
  type AttachmentSource,
  addAttachment,
  attachmentNameFor,
  contentTypeFor,
  getAttachment,
  listAttachments,
  readAttachment,
} from './attachments';
export {
  type BulkCreateOptions,
  bulkCreateTokens,
  type CreateReport,
  DEFAULT_BATCH_SIZE,
} from './bulkCreate';
export {
  type BulkProgress,
  type BulkSource,
  type BulkUpdateReport,
  bulkUpdate,
  changedFields,
} from './bulkUpdate';
export { couchError, openPicas, type PicasDb, statusOf } from './client';
export {
  describeSettings,
  type PicasSettings,
  parsePicasrc,
  resolvePicasSettings,
  splitUrlCredentials,
} from './connectionSettings';
export {
  createToken,
  createTokensFromMap,
  createTokensFromSlices,
  linesAttachment,
  tokensFromMap,
  tokensFromSlices,
  valueAttachment,
} from './create';
export {
  addView,
  assertDatabaseExists,
  clearViews,
  ensureDatabase,
  ensureDesignDoc,
  listViews,
  readClaimDesignDoc,
  readDesignDoc,
  type ViewInfo,
} from './designDocStore';
export { type JobIds, jobIdsFromEnv, primaryJobId } from './jobIds';
export { LOG_KINDS, type LogKind, logAttachmentName, parseLogAttachmentName } from './logNames';
export * from './protocol';
export {
  applyFieldOverrides,
  buildTokenTemplate,
  loadTokenConfigFile,
  missingTokenKeyFields,
  parseTokenConfig,
} from './tokenConfig';
export type { TokenTemplate } from './tokenConfig/template';
export {
  type AttachmentStub,
  type InlineAttachment,
  type StoredToken,
  type TokenDoc,
  tokenFromDoc,
  tokenToDoc,
} from './tokenDoc';
export {
  type AttachmentInput,
  buildTokenDoc,
  getToken,
  manualTokenId,
  type NewToken,
  sliceTokenId,
} from './tokens';
export {
  assertTokenType,
  claimDesignDocId,
  claimDesignDocName,
  claimViews,
  type DesignDoc,
  designDocId,
  EXPIRED_VIEW,
  OVERVIEW_VIEWS,
  SPREAD_VIEW,
  STATUS_VIEWS,
  spreadKey,
  standardViews,
  type ViewSource,
} from './viewDefinitions';
export { deleteView, purgeType, resetView, setViewStatus } from './viewOps';
export { listTokens, tokenOverview } from './viewQuery';
export type { ViewRow } from './viewRead';
