import { Agent, type Dispatcher, request } from 'undici';
import type { PicasSettings } from './connectionSettings';

/*
 * Plain HTTP calls to the PiCaS database for the writes whose HTTP status matters: nano answers a
 * 202 ("accepted by fewer than w replicas") exactly like a 201, and on a CouchDB cluster the
 * difference decides whether a claim is ours (docs/protocol.md, Cluster rules).
 */

/** What a call needs of an open database (a PicasDb is one). */
export interface CouchEndpoint {
  settings: Pick<PicasSettings, 'url' | 'user' | 'password'>;
  name: string;
  dispatcher: Dispatcher;
}

export interface CouchCall {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path segments after the database, each escaped on its own (`['t_1', 'logs/a.log']`). */
  path: string[];
  qs?: Record<string, string | number | boolean | undefined>;
  /** JSON body, or raw bytes with `contentType`. */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface CouchReply<T> {
  status: number;
  body: T;
}

/** The path segments of a document: design and local documents keep their prefix as a segment. */
export function docPath(id: string): string[] {
  const prefix = /^(_design|_local)\/(.+)$/.exec(id);
  return prefix ? [prefix[1]!, prefix[2]!] : [id];
}

export interface CouchTimeouts {
  connectMs: number;
  /** Headers and body of every request but a view read: a hung connection must not hold a heartbeat. */
  replyMs: number;
  /**
   * Headers of a view read. CouchDB answers a read whose index is still being built with HTTP 500
   * "timeout" after its own request timeout (60 s by default; docs/couchdb-rules.md rule 19): the
   * client waits longer, so it hears that answer and waits for the index (dbRetry.ts) instead of
   * taking the server for hung.
   */
  viewHeadersMs: number;
}

export const COUCH_TIMEOUTS: CouchTimeouts = { connectMs: 10_000, replyMs: 60_000, viewHeadersMs: 150_000 };

/** A request of `_design/<doc>/_view/<view>` (GET, or POST with keys). */
function isViewRead(path: string): boolean {
  return /\/_design\/[^/]+\/_view\//.test(path.split('?')[0]!);
}

/** The dispatcher of PicasDb handles: connect, header and body limits, and view reads' own. */
export function couchDispatcherWith(timeouts: CouchTimeouts): Dispatcher {
  const agent = new Agent({
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.replyMs,
    bodyTimeout: timeouts.replyMs,
  });
  return agent.compose(
    (dispatch) => (options, handler) =>
      dispatch(
        isViewRead(options.path) ? { ...options, headersTimeout: timeouts.viewHeadersMs } : options,
        handler,
      ),
  );
}

/** Every request of a PicasDb goes through it (openPicas hands it to nano as well). */
export const couchDispatcher = couchDispatcherWith(COUCH_TIMEOUTS);

/** An error shaped like nano's (statusCode, error, reason), so statusOf/couchError apply. */
function httpError(status: number, body: { error?: unknown; reason?: unknown } | undefined): Error {
  const reason = String(body?.reason ?? body?.error ?? `HTTP ${status}`);
  return Object.assign(new Error(reason), { statusCode: status, error: body?.error, reason });
}

function urlOf(picas: CouchEndpoint, call: CouchCall): URL {
  const base = picas.settings.url.replace(/\/+$/, '');
  const path = [picas.name, ...call.path].map(encodeURIComponent).join('/');
  const url = new URL(`${base}/${path}`);
  for (const [key, value] of Object.entries(call.qs ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url;
}

function authHeader(picas: CouchEndpoint): Record<string, string> {
  const { user, password } = picas.settings;
  if (user === undefined) return {};
  return { authorization: `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` };
}

/**
 * One request; resolves with the status and parsed JSON body for 2xx, rejects with a nano-shaped
 * error otherwise (no `statusCode` when the server could not be reached or did not answer).
 */
export async function couchCall<T>(picas: CouchEndpoint, call: CouchCall): Promise<CouchReply<T>> {
  const raw = call.contentType !== undefined;
  const headers: Record<string, string> = { accept: 'application/json', ...authHeader(picas) };
  if (call.body !== undefined) headers['content-type'] = raw ? call.contentType! : 'application/json';
  const response = await request(urlOf(picas, call), {
    method: call.method,
    headers,
    body: call.body === undefined ? undefined : raw ? (call.body as Buffer) : JSON.stringify(call.body),
    dispatcher: picas.dispatcher,
    signal: call.signal,
  });
  const text = await response.body.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (response.statusCode >= 400) throw httpError(response.statusCode, body as { error?: unknown });
  return { status: response.statusCode, body: body as T };
}
