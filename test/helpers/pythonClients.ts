/*
 * HTTP clients that send exactly the requests of the Python tools that share PiCaS databases with
 * grid-lrt (the Python packages cannot be installed here). Each method names the Python call it
 * stands for and sends its method, path, query, headers and body:
 * - couchdb-python 1.2 (`couchdb.client.Database`), which picasclient and GRID_LRT 1.0 use;
 * - python-cloudant 2.x (`cloudant.document.Document`), which GRID_LRT 1.0 uses for attachments;
 * - picasclient 1.1 (`picas.iterators._claim_task`, `BasicTokenModifier`, `RunActor._run`).
 * Not reproduced: couchdb-python's response cache (If-None-Match on repeated GETs).
 */

export interface PyServer {
  /** Base URL without credentials. */
  baseUrl: string;
  user: string;
  password: string;
  db: string;
}

/** The test database as the Python clients address it. */
export function pyServerOf(t: { baseUrl: string; user: string; password: string; name: string }): PyServer {
  return { baseUrl: t.baseUrl, user: t.user, password: t.password, db: t.name };
}

export interface PyReply {
  status: number;
  etag: string | null;
  body: unknown;
}

export class PyHttpError extends Error {
  constructor(
    readonly what: string,
    readonly reply: PyReply,
  ) {
    super(`${what}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
  }
}

type Doc = Record<string, unknown> & { _id?: string; _rev?: string };

/** One request as the Python clients send it (basic auth on every request, as both do). */
async function send(
  server: PyServer,
  method: string,
  path: string,
  options: { query?: Record<string, string>; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<PyReply> {
  const url = new URL(`${server.baseUrl}/${encodeURIComponent(server.db)}${path}`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const auth = Buffer.from(`${server.user}:${server.password}`).toString('base64');
  const res = await fetch(url, {
    method,
    headers: { accept: 'application/json', authorization: `Basic ${auth}`, ...options.headers },
    body: options.body,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // attachments and HEAD replies are not JSON
  }
  return { status: res.status, etag: res.headers.get('etag'), body };
}

function ok(what: string, reply: PyReply): PyReply {
  if (reply.status >= 400) throw new PyHttpError(what, reply);
  return reply;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** couchdb-python's `_doc_resource`: `_design/` ids keep their slash, every other id is quoted whole. */
function docPath(id: string): string {
  return id.startsWith('_design/')
    ? `/_design/${encodeURIComponent(id.slice(8))}`
    : `/${encodeURIComponent(id)}`;
}

/** couchdb-python's `couchdb.client.Database`. */
export class CouchdbPythonDatabase {
  constructor(readonly server: PyServer) {}

  /** `Server.__getitem__` / `__contains__`: HEAD /db. */
  async exists(): Promise<boolean> {
    return (await send(this.server, 'HEAD', '')).status === 200;
  }

  /** `db.get(id)`: GET /db/id; None on 404. */
  async get(id: string, query: Record<string, string> = {}): Promise<Doc | undefined> {
    const reply = await send(this.server, 'GET', docPath(id), { query });
    if (reply.status === 404) return undefined;
    return ok(`GET ${id}`, reply).body as Doc;
  }

  /** `id in db`: HEAD /db/id. */
  async contains(id: string): Promise<boolean> {
    return (await send(this.server, 'HEAD', docPath(id))).status === 200;
  }

  /**
   * `db.save(doc, **options)`: PUT /db/id with the document (its `_rev` in the body) when it has an
   * id, else POST /db; `doc._rev` updated (not for batch='ok', which returns no revision).
   */
  async save(
    doc: Doc,
    options: { batch?: 'ok' } = {},
  ): Promise<{ id: string; rev?: string; status: number }> {
    const query = options.batch ? { batch: options.batch } : undefined;
    const body = JSON.stringify(doc);
    const reply =
      doc._id !== undefined
        ? await send(this.server, 'PUT', docPath(doc._id), { query, headers: JSON_TYPE, body })
        : await send(this.server, 'POST', '', { query, headers: JSON_TYPE, body });
    const data = ok(`save ${doc._id ?? '(new)'}`, reply).body as { id: string; rev?: string };
    doc._id = data.id;
    if (data.rev !== undefined) doc._rev = data.rev;
    return { id: data.id, rev: data.rev, status: reply.status };
  }

  /** `db.delete(doc)`: DELETE /db/id?rev=<doc._rev>. */
  async delete(doc: Doc): Promise<PyReply> {
    return ok(
      `delete ${doc._id}`,
      await send(this.server, 'DELETE', docPath(doc._id!), { query: { rev: doc._rev! } }),
    );
  }

  /** `del db[id]`: HEAD /db/id for the revision (ETag), then DELETE /db/id?rev=<etag>. */
  async deleteById(id: string): Promise<PyReply> {
    const head = ok(`HEAD ${id}`, await send(this.server, 'HEAD', docPath(id)));
    const rev = (head.etag ?? '').replace(/^"|"$/g, '');
    return ok(`del ${id}`, await send(this.server, 'DELETE', docPath(id), { query: { rev } }));
  }

  /** `db.put_attachment(doc, content, filename, content_type)`: PUT /db/id/filename?rev=. */
  async putAttachment(doc: Doc, content: string | Buffer, filename: string, contentType: string) {
    const reply = await send(this.server, 'PUT', `${docPath(doc._id!)}/${encodeURIComponent(filename)}`, {
      query: { rev: doc._rev! },
      headers: { 'content-type': contentType },
      body: content,
    });
    doc._rev = (ok(`put_attachment ${filename}`, reply).body as { rev: string }).rev;
    return reply;
  }

  /** `db.get_attachment(id, filename)`: GET /db/id/filename; None on 404. */
  async getAttachment(id: string, filename: string): Promise<string | undefined> {
    const reply = await send(this.server, 'GET', `${docPath(id)}/${encodeURIComponent(filename)}`);
    if (reply.status === 404) return undefined;
    const body = ok(`get_attachment ${filename}`, reply).body;
    return typeof body === 'string' ? body : JSON.stringify(body);
  }

  /** `db.delete_attachment(doc, filename)`: DELETE /db/id/filename?rev=. */
  async deleteAttachment(doc: Doc, filename: string): Promise<PyReply> {
    const reply = await send(this.server, 'DELETE', `${docPath(doc._id!)}/${encodeURIComponent(filename)}`, {
      query: { rev: doc._rev! },
    });
    doc._rev = (ok(`delete_attachment ${filename}`, reply).body as { rev: string }).rev;
    return reply;
  }

  /** `db.update(docs, **options)`: POST /db/_bulk_docs with the options in the body. */
  async update(docs: Doc[], options: { new_edits?: boolean } = {}): Promise<unknown[]> {
    const reply = await send(this.server, 'POST', '/_bulk_docs', {
      headers: JSON_TYPE,
      body: JSON.stringify({ docs, ...options }),
    });
    return ok('update', reply).body as unknown[];
  }

  /** `db.copy(src, dest)`: COPY /db/src with a Destination header; returns the new revision. */
  async copy(src: string, dest: string): Promise<string> {
    const reply = await send(this.server, 'COPY', docPath(src), { headers: { destination: dest } });
    return (ok(`copy ${src}`, reply).body as { rev: string }).rev;
  }

  /**
   * `db.view('ddoc/view', **options)`: GET /db/_design/ddoc/_view/view; key-like options
   * JSON-encoded, booleans lower case, numbers as text (couchdb-python's _encode_view_options);
   * with `keys`, a POST with `{"keys": [...]}` as the body and the other options in the query.
   */
  async view(
    name: string,
    options: Record<string, unknown> = {},
  ): Promise<{ rows: { id: string; key: unknown; value: unknown; doc?: Doc }[] }> {
    const [ddoc, view] = name.split('/') as [string, string];
    const { keys, ...rest } = options;
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(rest)) {
      query[key] =
        ['key', 'startkey', 'start_key', 'endkey', 'end_key'].includes(key) || typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
    }
    const path = `/_design/${encodeURIComponent(ddoc)}/_view/${encodeURIComponent(view)}`;
    const reply =
      keys === undefined
        ? await send(this.server, 'GET', path, { query })
        : await send(this.server, 'POST', path, {
            query,
            headers: JSON_TYPE,
            body: JSON.stringify({ keys }),
          });
    return ok(`view ${name}`, reply).body as {
      rows: { id: string; key: unknown; value: unknown; doc?: Doc }[];
    };
  }
}

/** python-cloudant's `cloudant.document.Document`. */
export class CloudantDocument {
  doc: Doc;
  constructor(
    readonly server: PyServer,
    id: string,
  ) {
    this.doc = { _id: id };
  }

  private get path(): string {
    return docPath(this.doc._id!);
  }

  /** `exists()`: HEAD /db/id. */
  async exists(): Promise<boolean> {
    return (await send(this.server, 'HEAD', this.path)).status === 200;
  }

  /** `fetch()`: GET /db/id, replacing the local copy. */
  async fetch(): Promise<void> {
    this.doc = ok(`fetch ${this.doc._id}`, await send(this.server, 'GET', this.path)).body as Doc;
  }

  /** `create()`: POST /db with the document minus `_rev`. */
  async create(): Promise<void> {
    const { _rev, ...doc } = this.doc;
    const reply = await send(this.server, 'POST', '', { headers: JSON_TYPE, body: JSON.stringify(doc) });
    const data = ok(`create ${this.doc._id}`, reply).body as { id: string; rev: string };
    this.doc = { ...this.doc, _id: data.id, _rev: data.rev };
  }

  /** `save()`: create() when HEAD says it does not exist, else PUT /db/id with the document. */
  async save(): Promise<void> {
    if (!(await this.exists())) return this.create();
    const reply = await send(this.server, 'PUT', this.path, {
      headers: JSON_TYPE,
      body: JSON.stringify(this.doc),
    });
    this.doc._rev = (ok(`save ${this.doc._id}`, reply).body as { rev: string }).rev;
  }

  /** `delete()`: DELETE /db/id?rev=. */
  async delete(): Promise<void> {
    ok(
      `delete ${this.doc._id}`,
      await send(this.server, 'DELETE', this.path, { query: { rev: this.doc._rev! } }),
    );
    this.doc = { _id: this.doc._id };
  }

  /** `put_attachment(name, content_type, data)`: fetch, PUT with `If-Match: <rev>` (no ?rev=), fetch. */
  async putAttachment(name: string, contentType: string, data: string | Buffer): Promise<PyReply> {
    await this.fetch();
    const reply = await send(this.server, 'PUT', `${this.path}/${name}`, {
      headers: { 'If-Match': this.doc._rev!, 'Content-Type': contentType },
      body: data,
    });
    ok(`put_attachment ${name}`, reply);
    await this.fetch();
    return reply;
  }

  /** `get_attachment(name, attachment_type='binary')`: fetch, GET with `If-Match: <rev>`. */
  async getAttachment(name: string): Promise<string> {
    await this.fetch();
    const reply = await send(this.server, 'GET', `${this.path}/${name}`, {
      headers: { 'If-Match': this.doc._rev! },
    });
    const body = ok(`get_attachment ${name}`, reply).body;
    return typeof body === 'string' ? body : JSON.stringify(body);
  }

  /** `delete_attachment(name)`: fetch, DELETE with `If-Match: <rev>`, the new rev kept. */
  async deleteAttachment(name: string): Promise<PyReply> {
    await this.fetch();
    const reply = await send(this.server, 'DELETE', `${this.path}/${name}`, {
      headers: { 'If-Match': this.doc._rev! },
    });
    this.doc._rev = (ok(`delete_attachment ${name}`, reply).body as { rev: string }).rev;
    return reply;
  }
}

export { send as pySend };
