/** SURL lists: parsing, the LTA site table, link forms, subband slicing, token attachment text. */

export {
  gfalLink,
  gsiftpLink,
  httpsLink,
  isLinkKind,
  LINK_KINDS,
  type LinkKind,
  linkFor,
  toSurl,
} from './links';
export { type DroppedDuplicate, describeOrigin, type ListEntry, type Origin, SurlList } from './list';
export { type LineProblem, parseSurlListText, readSurlListFile, surlListFileLines } from './parseFile';
export {
  describeSites,
  LTA_SITES,
  type LtaSite,
  type SiteName,
  siteByName,
  siteForHost,
} from './sites';
export { type Chunk, chunksToRecord, sliceBySubband } from './slice';
export { type SlicedChunk, type SliceFileOptions, type SurlListSlices, sliceSurlListFile } from './sliceFile';
export {
  DEFAULT_SUBBAND_PATTERN,
  describePattern,
  detectSubbandPattern,
  formatRanges,
  indexSubbands,
  KNOWN_SUBBAND_PATTERNS,
  mostFound,
  type SubbandIndex,
  type SubbandPattern,
  type SubbandRange,
  type SubbandSummary,
  subbandKey,
  subbandOf,
  summarizeSubbands,
} from './subbands';
export { isSurl, type LinkForm, obsidOf, parseSurl, type Surl } from './surl';
export { SRM_ATTACHMENT, srmTxt, tokenId } from './tokenParts';
