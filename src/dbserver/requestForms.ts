import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

/*
 * Request forms that Apache CouchDB 3 accepts and express-pouchdb refuses or answers otherwise,
 * as the Python tools send them (docs/couchdb-rules.md, "Request forms of the Python clients"):
 * the revision in an `If-Match` header (python-cloudant's attachment PUT, GET and DELETE), the
 * revision in the body, the query or both, `batch=ok`, `new_edits=false` on a document PUT, the
 * ETag of a document read (couchdb-python's `del db[id]` takes the revision from a HEAD), DELETE
 * without a revision, of a missing attachment or on an unknown revision, and COPY's reply.
 *
 * The fix is a middleware in front of express-pouchdb: it puts the revision where express-pouchdb
 * looks (`?rev=`, the body's `_rev`), answers CouchDB's own 400/404/409 where express-pouchdb
 * would do something else, and rewrites replies into CouchDB's shape. Checks that need the stored
 * document read it through this same server with the caller's own credentials, so a caller learns
 * nothing its own reads would not show.
 */

const requireCjs = createRequire(__filename);

interface FormRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  body?: unknown;
}

interface FormResponse {
  statusCode: number;
  status(code: number): FormResponse;
  set(name: string, value: string): FormResponse;
  removeHeader(name: string): void;
  send(chunk?: unknown): unknown;
}

type Next = (err?: unknown) => void;

/** A request on one document, or on one of its attachments. */
export interface DocumentTarget {
  /** Still percent-encoded, as sent: `/db/id` or `/db/_design/name`. */
  docPath: string;
  id: string;
  attachment?: string;
}

/** The document (and attachment) a request path names; undefined for any other endpoint. */
export function documentTarget(path: string): DocumentTarget | undefined {
  const segments = path.split('/').slice(1);
  if (segments.at(-1) === '') segments.pop();
  const [db, first] = segments;
  if (!db || !first || db.startsWith('_')) return undefined;
  // _local documents have no revision tree; _all_docs, _bulk_docs, _find ... are not documents.
  const idLength = first === '_design' ? 2 : 1;
  if (first.startsWith('_') && first !== '_design') return undefined;
  if (segments.length < 1 + idLength) return undefined;
  const rest = segments.slice(1 + idLength);
  if (idLength === 2 && rest[0]?.startsWith('_')) return undefined; // _view, _info, _show ...
  const idSegments = segments.slice(1, 1 + idLength);
  return {
    docPath: `/${[db, ...idSegments].join('/')}`,
    id: idSegments.map(decodeURIComponent).join('/'),
    ...(rest.length ? { attachment: rest.map(decodeURIComponent).join('/') } : {}),
  };
}

export type RevisionChoice = { rev?: string } | { error: string };

/** CouchDB's extract_header_rev: `?rev=` or `If-Match` (quotes stripped); both must agree. */
export function headerRev(ifMatch: string | undefined, queryRev: string | undefined): RevisionChoice {
  const etag = ifMatch === undefined ? undefined : ifMatch.trim().replace(/^"+|"+$/g, '');
  if (queryRev !== undefined && etag !== undefined && queryRev !== etag) {
    return { error: 'Document rev and etag have different values' };
  }
  return { rev: queryRev ?? etag };
}

/** CouchDB's couch_doc_from_req: the body's `_rev` first (checked against `?rev=`), else the header rule. */
export function documentRev(
  bodyRev: unknown,
  queryRev: string | undefined,
  ifMatch: string | undefined,
): RevisionChoice {
  if (typeof bodyRev === 'string') {
    if (queryRev !== undefined && queryRev !== bodyRev) {
      return { error: 'Document rev from request body and query string have different values' };
    }
    return { rev: bodyRev };
  }
  return headerRev(ifMatch, queryRev);
}

interface Reply {
  status: number;
  body: unknown;
  /** A revision (or attachment digest) sent as the quoted ETag header. */
  etag?: string;
}

type Rewrite = (status: number, body: unknown) => Reply | undefined | Promise<Reply | undefined>;

/** Lets `rewrite` replace the JSON reply express-pouchdb is about to send (once). */
function rewriteReply(res: FormResponse, rewrite: Rewrite): void {
  const send = res.send.bind(res);
  res.send = (chunk?: unknown) => {
    res.send = send;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
    } catch {
      return send(chunk);
    }
    const reply = rewrite(res.statusCode, body);
    if (!(reply instanceof Promise)) return send(reply ? replyBytes(res, reply) : chunk);
    reply.then(
      (late) => send(late ? replyBytes(res, late) : chunk),
      () => send(chunk),
    );
    return res;
  };
}

function replyBytes(res: FormResponse, reply: Reply): Buffer {
  res.status(reply.status);
  if (reply.etag !== undefined) res.set('ETag', `"${reply.etag}"`);
  return Buffer.from(`${JSON.stringify(reply.body)}\n`, 'utf8');
}

function sendNow(res: FormResponse, reply: Reply): void {
  res.set('Content-Type', 'application/json');
  res.send(replyBytes(res, reply));
}

const conflict = (): Reply => ({
  status: 409,
  body: { error: 'conflict', reason: 'Document update conflict.' },
});
const badRequest = (reason: string): Reply => ({ status: 400, body: { error: 'bad_request', reason } });

function header(req: FormRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function queryString(req: FormRequest, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}

function objectBody(body: unknown): Record<string, unknown> | undefined {
  return body && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

/** Reads a document through this server as the caller (same credentials): status and body. */
type CallerRead = (req: FormRequest, path: string) => Promise<Reply>;

function callerReader(selfUrl: () => string): CallerRead {
  return async (req, path) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const name of ['authorization', 'cookie']) {
      const value = header(req, name);
      if (value !== undefined) headers[name] = value;
    }
    const response = await fetch(`${selfUrl()}${path}`, { headers });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = { error: 'unknown_error', reason: text };
    }
    return { status: response.status, body };
  };
}

/** The body-parser express-pouchdb uses (the JSON reply it gives to broken JSON is CouchDB's). */
function parseJsonBody(req: FormRequest, res: FormResponse): Promise<boolean> {
  const json = requireCjs('body-parser').json({ limit: MAX_DOCUMENT_BYTES });
  return new Promise((done) => {
    json(req, res, (err?: { status?: number }) => {
      if (!err) return done(true);
      sendNow(
        res,
        err.status === 413
          ? { status: 413, body: { error: 'too_large', reason: 'the request entity is too large' } }
          : badRequest('invalid_json'),
      );
      done(false);
    });
  });
}

/** express-pouchdb's own default limit for a document body. */
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024 * 1024;

/** The middleware; `selfUrl` is this server's base URL (known once it listens). */
/** View parameters CouchDB takes as plain strings, never as JSON. */
const DOC_ID_PARAMETERS = ['startkey_docid', 'start_key_doc_id', 'endkey_docid', 'end_key_doc_id'];

/**
 * express-pouchdb JSON-parses every query value it can (`startkey_docid=123` becomes the number
 * 123, `"a"` loses its quotes); CouchDB reads a doc id as it was sent: quote it, so that parse
 * gives it back as sent.
 */
function keepDocIdsAsSent(query: Record<string, unknown>): void {
  for (const name of DOC_ID_PARAMETERS) {
    const value = query[name];
    if (typeof value === 'string') query[name] = JSON.stringify(value);
  }
}

export function couchRequestForms(selfUrl: () => string) {
  const read = callerReader(selfUrl);
  return (req: FormRequest, res: FormResponse, next: Next): void => {
    keepDocIdsAsSent(req.query);
    const target = documentTarget(req.path);
    const handled =
      req.method === 'POST' && /^\/[^/_][^/]*\/?$/.test(req.path)
        ? createDocument(req, res)
        : target
          ? documentRequest(req, res, target, read)
          : Promise.resolve(true);
    handled.then(
      (goOn) => (goOn ? next() : undefined),
      (err: unknown) => next(err),
    );
  };
}

/** Resolves true when express-pouchdb should go on with the (possibly rewritten) request. */
async function documentRequest(
  req: FormRequest,
  res: FormResponse,
  target: DocumentTarget,
  read: CallerRead,
): Promise<boolean> {
  const method = req.method;
  if (target.attachment === undefined) {
    if (method === 'GET' || method === 'HEAD') return withRevisionEtag(req, res);
    if (method === 'PUT') return putDocument(req, res, target);
    if (method === 'DELETE') return deleteDocument(req, res, target, read);
    if (method === 'COPY') return copyDocument(req, res, target, read);
    return true;
  }
  if (method === 'PUT') return putAttachment(req, res);
  if (method === 'DELETE') return deleteAttachment(req, res, target, read);
  return true;
}

/** A document read carries its revision as ETag (CouchDB's), so a HEAD tells the revision. */
function withRevisionEtag(req: FormRequest, res: FormResponse): boolean {
  if (req.query.open_revs !== undefined) return true;
  rewriteReply(res, (status, body) => {
    const rev = objectBody(body)?._rev;
    return status === 200 && typeof rev === 'string' ? { status, body, etag: rev } : undefined;
  });
  return true;
}

function isJson(req: FormRequest): boolean {
  return /^application\/json/i.test(header(req, 'content-type') ?? '');
}

async function putDocument(req: FormRequest, res: FormResponse, target: DocumentTarget): Promise<boolean> {
  const ifMatch = header(req, 'if-match');
  const queryRev = queryString(req, 'rev');
  if (isJson(req) && (ifMatch !== undefined || queryRev !== undefined)) {
    if (!(await parseJsonBody(req, res))) return false;
    const doc = objectBody(req.body);
    if (doc) {
      const choice = documentRev(doc._rev, queryRev, ifMatch);
      if ('error' in choice) {
        sendNow(res, badRequest(choice.error));
        return false;
      }
      if (choice.rev !== undefined) doc._rev = choice.rev;
    }
  }
  if (queryString(req, 'new_edits') === 'false') {
    // pouch answers a replicated write with its bulk result ([]); CouchDB with the revision kept.
    rewriteReply(res, (status, body) => {
      const rev = objectBody(req.body)?._rev;
      if (status !== 201 || !Array.isArray(body) || typeof rev !== 'string') return undefined;
      return { status, body: { ok: true, id: target.id, rev }, etag: rev };
    });
  }
  return inBatch(req, res, () => target.id);
}

/**
 * `batch=ok`: CouchDB answers 202 `{ok, id}` before the write and never reports how it went (a
 * conflict is dropped silently). The write is done here before the answer; the answer is CouchDB's.
 */
function inBatch(req: FormRequest, res: FormResponse, idOf: (body: unknown) => unknown): boolean {
  if (queryString(req, 'batch') !== 'ok') return true;
  delete req.query.batch;
  rewriteReply(res, (status, body) => {
    if (status !== 201 && status !== 409) return undefined;
    res.removeHeader('ETag');
    return { status: 202, body: { ok: true, id: idOf(body) } };
  });
  return true;
}

/** POST /db: a new document gets CouchDB's kind of id (32 hex digits; pouch's are UUIDs). */
async function createDocument(req: FormRequest, res: FormResponse): Promise<boolean> {
  if (isJson(req)) {
    if (!(await parseJsonBody(req, res))) return false;
    const doc = objectBody(req.body);
    if (doc && doc._id === undefined) doc._id = randomBytes(16).toString('hex');
  }
  return inBatch(req, res, (body) => objectBody(body)?.id ?? objectBody(req.body)?._id ?? null);
}

/** The revision of `?rev=` or `If-Match`; undefined once a 400 went out because they disagree. */
function requestedRev(req: FormRequest, res: FormResponse): { rev?: string } | undefined {
  const choice = headerRev(header(req, 'if-match'), queryString(req, 'rev'));
  if (!('error' in choice)) return choice;
  sendNow(res, badRequest(choice.error));
  return undefined;
}

/**
 * DELETE of a document: 404 when it is missing, 409 without a revision or on one it does not have
 * (express-pouchdb deletes the latest revision when none is given, and answers 404 for an
 * unknown one). A DELETE with a revision goes through unread; only its 404 is looked into.
 */
async function deleteDocument(
  req: FormRequest,
  res: FormResponse,
  target: DocumentTarget,
  read: CallerRead,
): Promise<boolean> {
  const choice = requestedRev(req, res);
  if (!choice) return false;
  if (choice.rev === undefined) {
    const current = await read(req, target.docPath);
    sendNow(res, current.status === 200 ? conflict() : current);
    return false;
  }
  req.query.rev = choice.rev;
  rewriteReply(res, async (status) =>
    status === 404 && (await read(req, target.docPath)).status === 200 ? conflict() : undefined,
  );
  return true;
}

function putAttachment(req: FormRequest, res: FormResponse): boolean {
  const choice = requestedRev(req, res);
  if (!choice) return false;
  if (choice.rev !== undefined) req.query.rev = choice.rev;
  // pouch fails on a revision that is not the leaf instead of calling it a conflict.
  rewriteReply(res, (status) => (status === 500 || (status === 404 && choice.rev) ? conflict() : undefined));
  return true;
}

/**
 * DELETE of an attachment: 404 when the document or the attachment is missing, 409 without a
 * revision or on one the document does not have (express-pouchdb answers 500, or deletes nothing
 * and still writes a new revision).
 */
async function deleteAttachment(
  req: FormRequest,
  res: FormResponse,
  target: DocumentTarget,
  read: CallerRead,
): Promise<boolean> {
  const choice = requestedRev(req, res);
  if (!choice) return false;
  const latest = await read(req, target.docPath);
  if (latest.status !== 200) {
    sendNow(res, latest);
    return false;
  }
  const rev = choice.rev;
  const atRev =
    rev === undefined || objectBody(latest.body)?._rev === rev
      ? latest
      : await read(req, `${target.docPath}?rev=${encodeURIComponent(rev)}`);
  if (atRev.status !== 200) {
    sendNow(res, conflict());
    return false;
  }
  const attachments = objectBody(objectBody(atRev.body)?._attachments);
  if (!attachments || !(target.attachment! in attachments)) {
    sendNow(res, { status: 404, body: { error: 'not_found', reason: 'Document is missing attachment' } });
    return false;
  }
  if (rev === undefined) {
    sendNow(res, conflict());
    return false;
  }
  req.query.rev = rev;
  rewriteReply(res, (status) => (status === 500 || status === 404 ? conflict() : undefined));
  return true;
}

/** COPY answers `{ok}` only in express-pouchdb; CouchDB gives the new copy's id and revision. */
function copyDocument(
  req: FormRequest,
  res: FormResponse,
  target: DocumentTarget,
  read: CallerRead,
): boolean {
  const destination = header(req, 'destination');
  if (!destination) return true;
  const destId = destination.replace(/\?rev=.*$/, '');
  const db = target.docPath.split('/')[1]!;
  const destPath = `/${db}/${destId.split('/').map(encodeURIComponent).join('/')}`;
  rewriteReply(res, async (status) => {
    if (status !== 201) return undefined;
    const rev = objectBody((await read(req, destPath)).body)?._rev;
    return typeof rev === 'string' ? { status, body: { ok: true, id: destId, rev }, etag: rev } : undefined;
  });
  return true;
}
