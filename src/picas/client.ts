import nano from 'nano';
import { LrtError, scrubSecrets } from '../core';
import type { PicasSettings } from './settings';

/** An open PiCaS database: the nano handles plus the settings they came from. */
export interface PicasDb {
  settings: PicasSettings;
  server: nano.ServerScope;
  db: nano.DocumentScope<TokenDoc>;
  name: string;
}

/** A token document as stored. Known fields are typed; anything else passes through. */
export interface TokenDoc {
  _id: string;
  _rev?: string;
  type: string;
  lock: number;
  done: number;
  status?: string;
  hostname?: string;
  scrub_count?: number;
  output?: unknown;
  _attachments?: Record<string, AttachmentStub | InlineAttachment>;
  [field: string]: unknown;
}

export interface AttachmentStub {
  stub: true;
  content_type: string;
  length: number;
  digest?: string;
  revpos?: number;
}

export interface InlineAttachment {
  content_type: string;
  /** base64 */
  data: string;
}

export function openPicas(settings: PicasSettings): PicasDb {
  const url = new URL(settings.url);
  if (settings.user) url.username = encodeURIComponent(settings.user);
  if (settings.password) url.password = encodeURIComponent(settings.password);
  const server = nano({ url: url.toString().replace(/\/$/, '') });
  return { settings, server, db: server.use<TokenDoc>(settings.database), name: settings.database };
}

interface CouchErrorShape {
  statusCode?: number;
  error?: string;
  reason?: string;
  message?: string;
}

/**
 * Turns whatever nano threw into an LrtError that says what failed, where, and why, with the
 * password scrubbed. `what` names the operation ("create tokens in sksp_dev").
 */
export function couchError(picas: PicasDb, what: string, err: unknown): LrtError {
  if (err instanceof LrtError) return err;
  const e = (err ?? {}) as CouchErrorShape;
  const secrets = [picas.settings.password];
  const where = `${picas.settings.url}/${picas.name}`;
  const status = e.statusCode;
  const detail = scrubSecrets(e.reason ?? e.message ?? String(err), secrets);
  const details = { database: picas.name, url: picas.settings.url, status };
  if (status === undefined) {
    return new LrtError('E_DB_UNREACHABLE', `${what}: cannot reach the PiCaS server at ${where}: ${detail}`, {
      details,
    });
  }
  if (status === 401) {
    const who = picas.settings.user ? `user "${picas.settings.user}"` : 'no credentials';
    return new LrtError(
      'E_DB_AUTH',
      `${what}: the server at ${picas.settings.url} refused ${who} (HTTP 401): check PICAS_USR / PICAS_USR_PWD or ~/.picasrc`,
      { details },
    );
  }
  if (status === 403) {
    return new LrtError('E_DB_FORBIDDEN', `${what}: not allowed on ${where} (HTTP 403): ${detail}`, {
      details,
    });
  }
  if (status === 409) {
    return new LrtError('E_CONFLICT', `${what}: document update conflict (HTTP 409)`, { details });
  }
  if (status === 404) {
    return new LrtError('E_DB_NOT_FOUND', `${what}: not found on ${where} (HTTP 404): ${detail}`, {
      details,
    });
  }
  return new LrtError('E_DB', `${what}: HTTP ${status} from ${where}: ${detail}`, { details });
}

export function statusOf(err: unknown): number | undefined {
  return (err as CouchErrorShape | undefined)?.statusCode;
}
