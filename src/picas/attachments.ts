import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { fileReadError, LrtError } from '../core';
import { openAttachmentStream } from './attachmentStream';
import { couchError, type PicasDb, statusOf } from './client';
import { nextConflictRound } from './conflictRounds';
import { settled, writeAttachment } from './protocol';
import { assertAttachmentName, getToken } from './tokens';

const CONTENT_TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.parset': 'text/plain',
  '.cfg': 'text/plain',
  '.sh': 'text/x-shellscript',
  '.log': 'text/plain',
  '.json': 'application/json',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.tar': 'application/x-tar',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
};

/** A content type from the name; parsets are text as in GRID_LRT; unknown means bytes. */
export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export interface AttachmentInfo {
  name: string;
  contentType: string;
  length: number;
}

export interface AddAttachmentResult {
  token: string;
  name: string;
  rev: string;
  /** True when an attachment of that name was there before and is now replaced. */
  replaced: boolean;
}

export type AttachmentSource = Buffer | { path: string };

/**
 * Adds (or replaces) one attachment on an existing token. PUT with the `_rev` just read; a 409
 * means the token changed in between (a pilot heartbeat, say): read again and retry (conflictRounds).
 */
export async function addAttachment(
  picas: PicasDb,
  tokenId: string,
  name: string,
  source: AttachmentSource,
  contentType?: string,
): Promise<AddAttachmentResult> {
  assertAttachmentName(name, tokenId);
  const data = Buffer.isBuffer(source) ? source : await readSource(source.path, tokenId, name);
  const type = contentType ?? contentTypeFor(name);
  for (let round = 1; ; round++) {
    const token = await getToken(picas, tokenId);
    const replaced = Boolean(token._attachments?.[name]);
    try {
      const written = await writeAttachment(picas, tokenId, name, token._rev!, data, type);
      const rev = await settled(picas, tokenId, written);
      return { token: tokenId, name, rev, replaced };
    } catch (err) {
      const status = statusOf(err);
      // 404: deleted between our read and our write; the next read reports it.
      if ((status === 409 || status === 404) && (await nextConflictRound(round))) continue;
      throw couchError(picas, `attach ${name} to token ${tokenId}`, err);
    }
  }
}

async function readSource(path: string, tokenId: string, name: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw fileReadError(`cannot read ${path} to attach as ${name} to token ${tokenId}`, err);
  }
}

/** The attachments of a token: name, content type and stored length, sorted by name. */
export async function listAttachments(picas: PicasDb, tokenId: string): Promise<AttachmentInfo[]> {
  const token = await getToken(picas, tokenId);
  return Object.entries(token._attachments ?? {})
    .map(([name, att]) => ({
      name,
      contentType: att.content_type,
      length: 'length' in att ? att.length : Buffer.from(att.data, 'base64').length,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * One attachment with its stored content type and length; the bytes verbatim. The token is read
 * first (a missing token or attachment gets a message naming both, an unreachable server its own
 * error), then the body is read as a stream: nano's buffered `attachment.get` decodes `text/*`
 * bodies as UTF-8, which would mangle any byte that is not valid UTF-8.
 */
export async function readAttachment(
  picas: PicasDb,
  tokenId: string,
  name: string,
): Promise<{ info: AttachmentInfo; data: Buffer }> {
  assertAttachmentName(name, tokenId);
  const token = await getToken(picas, tokenId);
  const stub = token._attachments?.[name];
  if (!stub) throw missingAttachment(tokenId, name, Object.keys(token._attachments ?? {}));
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of await openAttachmentStream(picas, tokenId, name)) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
    }
  } catch (err) {
    if (statusOf(err) === 404) throw missingAttachment(tokenId, name, []);
    throw couchError(picas, `read attachment ${name} of token ${tokenId}`, err);
  }
  const data = Buffer.concat(chunks);
  return { info: { name, contentType: stub.content_type, length: data.length }, data };
}

export async function getAttachment(picas: PicasDb, tokenId: string, name: string): Promise<Buffer> {
  return (await readAttachment(picas, tokenId, name)).data;
}

function missingAttachment(tokenId: string, name: string, has: string[]): LrtError {
  const others = has.length ? ` (it has: ${has.join(', ')})` : '';
  return new LrtError('E_ATTACHMENT', `token ${tokenId} has no attachment "${name}"${others}`, {
    details: { token: tokenId, attachment: name },
  });
}

/** The attachment name a file gets by default: its base name. */
export function attachmentNameFor(path: string): string {
  return basename(path);
}
