import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LrtError } from '../core';
import { openAttachmentStream } from '../picas/attachmentStream';
import { couchError, type PicasDb } from '../picas/client';
import type { PicasSettings } from '../picas/connectionSettings';
import { type TokenDoc, tokenToDoc } from '../picas/tokenDoc';
import { buildPayloadEnv, type PayloadEnv } from './payloadEnv';

/** GRID_LRT tokens carry their SURL list as this attachment; the pilot always fetches it. */
const SRM_ATTACHMENT = 'srm.txt';
/** Job-dir files no attachment may replace. */
const RESERVED_FILES = ['master.sh', 'pipeline_status'];

async function readTokvar(workDir: string): Promise<string | undefined> {
  try {
    return await readFile(join(workDir, 'tokvar.cfg'), 'utf8');
  } catch {
    return undefined;
  }
}

/** Streams one attachment to a file, bytes verbatim (the token doc is already in hand). */
async function downloadAttachment(
  picas: PicasDb,
  tokenId: string,
  name: string,
  dest: string,
): Promise<void> {
  try {
    await pipeline(await openAttachmentStream(picas, tokenId, name), createWriteStream(dest));
  } catch (err) {
    throw couchError(picas, `download attachment ${name} of token ${tokenId}`, err);
  }
}

export interface InputsOptions {
  picas: PicasDb;
  token: TokenDoc;
  workDir: string;
  statusFile: string;
  baseEnv: Record<string, string | undefined>;
  exportCredentials: boolean;
  credentials: PicasSettings;
  /** Attachments the pilot itself reads from the job dir (the stage_in list): written when present. */
  pilotFiles?: readonly string[];
}

/**
 * Token keys -> environment, attachments -> files (bytes verbatim). A token that lacks what its
 * config asks for fails here with LOFAR's exit code -2, before any payload runs.
 */
export async function prepareInputs(options: InputsOptions): Promise<PayloadEnv> {
  const { token, workDir } = options;
  const payloadEnv = buildPayloadEnv({
    token: tokenToDoc(token),
    jobDir: workDir,
    statusFile: options.statusFile,
    baseEnv: options.baseEnv,
    tokvar: await readTokvar(workDir),
    exportCredentials: options.exportCredentials,
    picas: options.credentials,
    reservedFileNames: RESERVED_FILES,
  });
  if (payloadEnv.missing.length > 0) {
    throw new LrtError(
      'E_CONFIG',
      `token ${token._id} lacks what its config asks for: ${payloadEnv.missing.join(', ')}`,
      { exitCode: -2, details: { missing: payloadEnv.missing } },
    );
  }
  const files = [...payloadEnv.files];
  const attachments = token._attachments ?? {};
  for (const name of [SRM_ATTACHMENT, ...(options.pilotFiles ?? [])]) {
    if (name in attachments && !RESERVED_FILES.includes(name) && !files.some((f) => f.attachment === name)) {
      files.push({ attachment: name, fileName: name });
    }
  }
  for (const file of files) {
    await downloadAttachment(options.picas, token._id, file.attachment, join(workDir, file.fileName));
  }
  return { ...payloadEnv, files };
}
