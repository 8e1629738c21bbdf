import { LrtError } from '../core';
import { couchError, type PicasDb, statusOf } from './client';
import { assertDatabaseExists } from './designDocStore';
import { type StoredToken, type TokenDoc, tokenFromDoc } from './tokenDoc';
import { assertTokenType } from './viewDefinitions';

/** A file to attach to a token, held in memory. */
export interface AttachmentInput {
  name: string;
  contentType: string;
  data: Buffer;
}

/** What a caller asks for: an id, extra fields and attachments. The skeleton is added here. */
export interface NewToken {
  id: string;
  fields?: Record<string, unknown>;
  attachments?: AttachmentInput[];
}

export interface TokenSkeleton {
  type: string;
  lock: 0;
  done: 0;
  status: string;
  hostname: string;
  scrub_count: number;
  output: string;
  progress: number;
  times: Record<string, number>;
}

/**
 * The fields every new token starts with (docs/token-format.md). Fields given by the caller replace
 * these, except `type`, `lock` and `done`: GRID_LRT configs carry their own `type: tutorial`,
 * `lock: 0`, and the claim protocol depends on a new token being free.
 */
export function tokenSkeleton(type: string): TokenSkeleton {
  return {
    type,
    lock: 0,
    done: 0,
    status: 'todo',
    hostname: '',
    scrub_count: 0,
    output: '',
    progress: 0,
    times: {},
  };
}

const ID_MAX = 512;

/** Token ids end up in URLs, file names and view keys: printable, no whitespace, not `_`-reserved. */
export function assertTokenId(id: string): void {
  const why =
    id === ''
      ? 'it is empty'
      : id.startsWith('_')
        ? "ids starting with '_' are reserved by CouchDB"
        : /[\s\x00-\x1f\x7f]/.test(id)
          ? 'it contains whitespace or control characters'
          : id.length > ID_MAX
            ? `it is longer than ${ID_MAX} characters`
            : undefined;
  if (why) throw new LrtError('E_USAGE', `invalid token id ${JSON.stringify(id)}: ${why}`);
}

/** Attachment names become a URL path segment and a file name in the pilot's job dir. */
export function assertAttachmentName(name: string, tokenId?: string): void {
  const why =
    name === ''
      ? 'it is empty'
      : name.includes('/') || name.includes('\\')
        ? 'it contains a path separator'
        : name.startsWith('_')
          ? "names starting with '_' are reserved by CouchDB"
          : name === '.' || name === '..'
            ? 'it is a directory name'
            : /[\x00-\x1f\x7f]/.test(name)
              ? 'it contains control characters'
              : undefined;
  if (why) {
    const where = tokenId ? ` (token ${tokenId})` : '';
    throw new LrtError('E_ATTACHMENT', `invalid attachment name ${JSON.stringify(name)}${where}: ${why}`);
  }
}

/** `'5'` -> `'005'`, as GRID_LRT's `"%03d" % int(key)`; non-numeric keys stay as they are. */
export function subbandLabel(key: string): string {
  return /^\d+$/.test(key) ? String(Number(key)).padStart(3, '0') : key;
}

/**
 * GRID_LRT's id for one slice of an observation: `t_<type>_<OBSID>_SB<nnn>`. Same format as
 * srm's tokenId, kept here because picas/ depends on core/ only (docs/architecture.md).
 */
export function sliceTokenId(type: string, obsid: string | undefined, key: string, prefix = 'SB'): string {
  assertTokenType(type);
  const middle = obsid ? `${obsid}_` : '';
  return `t_${type}_${middle}${prefix}${subbandLabel(key)}`;
}

/** GRID_LRT's `create_token(append=suffix)`: `t_<type>_<suffix>`. */
export function manualTokenId(type: string, suffix: string): string {
  assertTokenType(type);
  if (suffix === '') throw new LrtError('E_USAGE', 'the token id suffix is empty');
  const id = `t_${type}_${suffix}`;
  assertTokenId(id);
  return id;
}

const MANAGED_FIELDS = new Set(['type', 'lock', 'done']);

/**
 * The document `_bulk_docs` stores for a new token: skeleton, caller fields, inline base64
 * attachments. Throws E_USAGE / E_ATTACHMENT naming the token and the offending field or file.
 */
export function buildTokenDoc(type: string, token: NewToken): StoredToken {
  assertTokenType(type);
  assertTokenId(token.id);
  const doc: StoredToken = { _id: token.id, ...tokenSkeleton(type) };
  for (const [field, value] of Object.entries(token.fields ?? {})) {
    if (field.startsWith('_')) {
      throw new LrtError(
        'E_USAGE',
        `token ${token.id}: field "${field}" is not allowed (names starting with '_' are reserved by CouchDB)`,
      );
    }
    if (value === undefined || MANAGED_FIELDS.has(field)) continue;
    doc[field] = value;
  }
  const attachments = token.attachments ?? [];
  if (attachments.length > 0) {
    const inline: NonNullable<StoredToken['_attachments']> = {};
    for (const att of attachments) {
      assertAttachmentName(att.name, token.id);
      if (inline[att.name]) {
        throw new LrtError('E_ATTACHMENT', `token ${token.id}: attachment "${att.name}" is given twice`);
      }
      inline[att.name] = { content_type: att.contentType, data: att.data.toString('base64') };
    }
    doc._attachments = inline;
  }
  return doc;
}

/** Reads one token. Throws E_TOKEN_NOT_FOUND naming the id and database when it is absent. */
export async function getToken(picas: PicasDb, id: string): Promise<TokenDoc> {
  try {
    return tokenFromDoc(await picas.db.get(id));
  } catch (err) {
    if (statusOf(err) === 404) {
      await assertDatabaseExists(picas);
      throw new LrtError('E_TOKEN_NOT_FOUND', `token ${id} not found in database ${picas.name}`, {
        details: { token: id, database: picas.name },
      });
    }
    throw couchError(picas, `read token ${id}`, err);
  }
}
