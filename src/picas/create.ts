import { type BulkCreateOptions, bulkCreateTokens, type CreateReport } from './bulkCreate';
import type { PicasDb } from './client';
import { type AttachmentInput, type NewToken, sliceTokenId, subbandLabel } from './tokens';

export type { CreateReport } from './bulkCreate';

/** Creates one token (fields and attachments); an existing id is reported in `existing`, untouched. */
export function createToken(picas: PicasDb, type: string, token: NewToken): Promise<CreateReport> {
  return bulkCreateTokens(picas, type, [token]);
}

/** A list of lines as a text attachment, one item a line, as GRID_LRT wrote srm.txt. */
export function linesAttachment(name: string, lines: readonly string[]): AttachmentInput {
  return { name, contentType: 'text/plain', data: Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8') };
}

/** The attachment made from one value of a token map: lines, text, bytes, or JSON for anything else. */
export function valueAttachment(name: string, value: unknown): AttachmentInput {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return linesAttachment(name, value);
  if (typeof value === 'string') return { name, contentType: 'text/plain', data: Buffer.from(value, 'utf8') };
  if (value instanceof Uint8Array)
    return { name, contentType: 'application/octet-stream', data: Buffer.from(value) };
  return { name, contentType: 'application/json', data: Buffer.from(JSON.stringify(value), 'utf8') };
}

export interface TokenMapOptions {
  /** The field that receives each map key (GRID_LRT's key_name; default STARTSB). */
  keyName?: string;
  /** Attach each map value under this name (GRID_LRT's file_upload); no attachment when absent. */
  fileUpload?: string;
  /** Put into the id between the type and the key: `t_<type>_<idAppend>_SB<key>`. */
  idAppend?: string;
  /** Before the key in the id (default SB). */
  idPrefix?: string;
  /** Fields every token gets (from a config, `--set`); the key field wins over them. */
  fields?: Record<string, unknown>;
  /** Attachments every token gets besides the per-key one (a parset, say). */
  attachments?: AttachmentInput[];
}

/**
 * GRID_LRT's create_dict_tokens, pure: one token per map entry, the key (zero-padded to three
 * digits when numeric) in `keyName` and in the id, the value attached as `fileUpload`.
 */
export function tokensFromMap(
  type: string,
  map: Record<string, unknown>,
  options: TokenMapOptions = {},
): NewToken[] {
  return Object.entries(map).map(([key, value]) => mapEntryToken(type, key, value, options));
}

/** The token of one map entry (see tokensFromMap). Pure. */
export function mapEntryToken(
  type: string,
  key: string,
  value: unknown,
  options: TokenMapOptions = {},
): NewToken {
  const keyName = options.keyName ?? 'STARTSB';
  const attachments = [...(options.attachments ?? [])];
  if (options.fileUpload) attachments.push(valueAttachment(options.fileUpload, value));
  return {
    id: sliceTokenId(type, options.idAppend, key, options.idPrefix ?? 'SB'),
    fields: { ...(options.fields ?? {}), [keyName]: subbandLabel(key) },
    attachments,
  };
}

export interface SliceOptions {
  /** The observation of the SURL list (`L229507`): goes into the id and the OBSID field. */
  obsid?: string;
  keyName?: string;
  fields?: Record<string, unknown>;
  /** Name of the SURL list attachment (default srm.txt). */
  attachmentName?: string;
  attachments?: AttachmentInput[];
}

/**
 * One token per slice of a SURL list (`{"100": [surl, ...], "110": [...]}`): id
 * `t_<type>_<OBSID>_SB<nnn>`, the slice as `srm.txt` (one SURL a line), `STARTSB` and `OBSID` set
 * per token over the template fields (a config's placeholder OBSID must not survive).
 */
export function tokensFromSlices(
  type: string,
  slices: Record<string, readonly string[]>,
  options: SliceOptions = {},
): NewToken[] {
  return Object.entries(slices).map(([key, surls]) => sliceToken(type, key, surls, options));
}

/** The token of one slice `key` of a SURL list (see tokensFromSlices). Pure. */
export function sliceToken(
  type: string,
  key: string,
  surls: readonly string[],
  options: SliceOptions = {},
): NewToken {
  const fields = { ...(options.fields ?? {}), ...(options.obsid ? { OBSID: options.obsid } : {}) };
  return mapEntryToken(type, key, surls, {
    keyName: options.keyName,
    fileUpload: options.attachmentName ?? 'srm.txt',
    idAppend: options.obsid,
    fields,
    attachments: options.attachments,
  });
}

export function createTokensFromMap(
  picas: PicasDb,
  type: string,
  map: Record<string, unknown>,
  options: TokenMapOptions & BulkCreateOptions = {},
): Promise<CreateReport> {
  return bulkCreateTokens(picas, type, tokensFromMap(type, map, options), options);
}

export function createTokensFromSlices(
  picas: PicasDb,
  type: string,
  slices: Record<string, readonly string[]>,
  options: SliceOptions & BulkCreateOptions = {},
): Promise<CreateReport> {
  return bulkCreateTokens(picas, type, tokensFromSlices(type, slices, options), options);
}
