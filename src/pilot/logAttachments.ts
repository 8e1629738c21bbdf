import { type LogKind, logAttachmentName } from '../picas/logNames';
import type { TokenDoc } from '../picas/tokenDoc';
import { type JobDir, readTail } from './jobDir';

/** A log larger than this is attached as its last part (the head is rarely what explains a failure). */
export const MAX_LOG_ATTACHMENT_BYTES = 16 * 1024 * 1024;

export type InlineAttachments = Record<string, { content_type: string; data: string }>;

/** The attempt's stdout, stderr and pilot log as inline attachments for the final write. */
export async function collectLogs(dir: JobDir, attempt: number): Promise<InlineAttachments> {
  const files: Record<LogKind, string> = { stdout: dir.stdout, stderr: dir.stderr, pilot: dir.pilotLog };
  const out: InlineAttachments = {};
  for (const [kind, path] of Object.entries(files) as [LogKind, string][]) {
    const { bytes, truncated } = await readTail(path, MAX_LOG_ATTACHMENT_BYTES);
    const body = truncated
      ? Buffer.concat([
          Buffer.from(`[... truncated: last ${MAX_LOG_ATTACHMENT_BYTES} bytes follow ...]\n`),
          bytes,
        ])
      : bytes;
    out[logAttachmentName(attempt, kind)] = { content_type: 'text/plain', data: body.toString('base64') };
  }
  return out;
}

/**
 * The finished doc with the logs added inline: one PUT writes state and logs together. Existing
 * attachments stay as the stubs CouchDB sent.
 */
export function withInlineLogs(doc: TokenDoc, logs: InlineAttachments): TokenDoc {
  return { ...doc, _attachments: { ...(doc._attachments ?? {}), ...logs } };
}
