/*
 * The token in code and on the wire (docs/token-format.md). On the database a token is one flat
 * JSON document: the fields of PiCaS, GRID_LRT, picasclient and grid-lrt beside the user's own
 * (OBSID, STARTSB, whatever a config or `--set` put there), as those tools expect. In code a
 * token is a `TokenDoc`: every field the project knows, typed, and the user's fields in `extra`.
 * `tokenFromDoc` and `tokenToDoc` convert between the two; every read and write of a token goes
 * through them. Types only besides the two conversions: this file imports nothing, so every
 * module can use it without an import cycle.
 */

/** Who holds a claimed token and until when (`lease` field). */
export interface Lease {
  id: string;
  pilot: string;
  host: string;
  /** Epoch s; after it any pilot may reclaim the token. */
  expires: number;
  renewed: number;
  attempt: number;
  /**
   * The `lock` the claim wrote. Another tool that takes the token (picasclient's claim) writes a
   * new `lock` and `hostname` and leaves `lease` as it was: see takenOverBy.
   */
  lock?: number;
}

/** One claim of a token (`attempts` field, the last MAX_ATTEMPT_RECORDS kept). */
export interface AttemptRecord {
  n: number;
  pilot: string;
  host: string;
  jobid?: string;
  started: number;
  ended?: number;
  phase?: string;
  exit?: number;
  reason?: string;
  /** Seconds the attempt spent per phase (ms precision), written by the pilot's final write. */
  phases?: Record<string, number>;
}

/** An entry of the `error` list (SURF picasclient's shape plus exit code and stderr tail). */
export interface TokenErrorEntry {
  time: number;
  message: string;
  phase?: string;
  exit_code?: number;
  stderr_tail?: string;
}

/** `error`: grid-lrt's and picasclient's entries, and the single value an older tool wrote. */
export type TokenErrorList = Array<TokenErrorEntry | JsonObject | string>;

/** `staging` on a token made with `--stage` (docs/lta-sites.md). Times are epoch seconds. */
export interface TokenStaging {
  /** The stager request ids holding this token's SURLs (absent on a token put in staging by hand). */
  requests?: number[];
  submitted?: number;
  /** Set when `lrt stage release` moved the token to todo. */
  released?: number;
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

/** A JSON object as a tool wrote it; its parser (src/transfer/stageSpec.ts, tokenShape.ts) checks it. */
type JsonObject = Record<string, unknown>;

/**
 * The fields the project knows, as the tools write them. A token made by hand or by another tool
 * can still hold anything under these names: the readers that must survive that check the value
 * (leaseOf, attemptsOf, timesOf, appendError, tokenShapeProblems, the stage parsers).
 */
export interface TokenFields {
  _id: string;
  _rev?: string;
  _attachments?: Record<string, AttachmentStub | InlineAttachment>;
  /** With `conflicts=true`: the losing leaves' revisions. */
  _conflicts?: string[];
  _deleted?: boolean;
  type: string;
  /** 0 when free, else the epoch second of the claim (the views test it with `==`: "0" is free too). */
  lock: number;
  /** 0 while unfinished, else the epoch second of the finish; picasclient's error writes -1. */
  done: number;
  status?: string;
  hostname?: string;
  scrub_count?: number;
  /** GRID_LRT's exit code: a number, "" when fresh or reset, picasclient's results object. */
  output?: number | string | JsonObject;
  /** picasclient's name for the exit code; it writes whatever its payload returned. */
  exit_code?: number | string;
  launcher_status?: string;
  /** 0..1. */
  progress?: number;
  /** State or phase -> epoch second it was entered. */
  times?: Record<string, number>;
  attempts?: AttemptRecord[];
  lease?: Lease;
  /** A list of entries; an older tool's single value (a string) is kept as the first entry on append. */
  error?: TokenErrorList | string;
  SBXloc?: string;
  /** The launcher's config; some tools store it as a JSON string. */
  'config.json'?: JsonObject | string;
  stage_in?: boolean | JsonObject;
  stage_out?: boolean | JsonObject;
  upload?: JsonObject;
  timeout_s?: number;
  lease_s?: number;
  bytes_moved?: number;
  staging?: TokenStaging;
  slurm_job_id?: string;
  dirac_job_id?: string;
  wms_job_id?: string;
  arc_job_id?: string;
  pbs_job_id?: string;
  lsf_job_id?: string;
  sge_job_id?: string;
  condor_job_id?: string;
  Results_location?: string;
  Results_size?: number;
  Results_adler32?: string;
  stage_out_result?: unknown[];
}

/** A token in code: the known fields typed, every other field of the document in `extra`. */
export interface TokenDoc extends TokenFields {
  /** The user's and the config's fields (what master.sh gets as environment), by name. */
  extra: Record<string, unknown>;
}

/** A token document on the wire: flat, the known fields beside any other. */
export interface StoredToken extends TokenFields {
  [field: string]: unknown;
}

/** Every known field name; a Record so that the compiler finds one missing or misspelled. */
const KNOWN_FIELDS: Record<keyof TokenFields, true> = {
  _id: true,
  _rev: true,
  _attachments: true,
  _conflicts: true,
  _deleted: true,
  type: true,
  lock: true,
  done: true,
  status: true,
  hostname: true,
  scrub_count: true,
  output: true,
  exit_code: true,
  launcher_status: true,
  progress: true,
  times: true,
  attempts: true,
  lease: true,
  error: true,
  SBXloc: true,
  'config.json': true,
  stage_in: true,
  stage_out: true,
  upload: true,
  timeout_s: true,
  lease_s: true,
  bytes_moved: true,
  staging: true,
  slurm_job_id: true,
  dirac_job_id: true,
  wms_job_id: true,
  arc_job_id: true,
  pbs_job_id: true,
  lsf_job_id: true,
  sge_job_id: true,
  condor_job_id: true,
  Results_location: true,
  Results_size: true,
  Results_adler32: true,
  stage_out_result: true,
};

function isTokenField(name: string): name is keyof TokenFields {
  return Object.hasOwn(KNOWN_FIELDS, name);
}

function copyField<K extends keyof TokenFields>(to: TokenFields, from: TokenFields, name: K): void {
  to[name] = from[name];
}

/** The document read from the database as a token: known fields as they are, the rest in `extra`. Pure. */
export function tokenFromDoc(raw: StoredToken): TokenDoc {
  const token: TokenDoc = { _id: raw._id, type: raw.type, lock: raw.lock, done: raw.done, extra: {} };
  for (const [name, value] of Object.entries(raw)) {
    if (isTokenField(name)) copyField(token, raw, name);
    else token.extra[name] = value;
  }
  return token;
}

/**
 * The document to write: the known fields, then `extra` back at the top level (a known field wins
 * over an `extra` entry of the same name). Undefined fields are left out, as JSON leaves them
 * out. Pure; built key by key: spreading the two objects took ten times as long (3 against 33 µs).
 */
export function tokenToDoc(token: TokenDoc): StoredToken {
  const doc: StoredToken = { _id: token._id, type: token.type, lock: token.lock, done: token.done };
  for (const [name, value] of Object.entries(token)) {
    if (name !== 'extra') doc[name] = value;
  }
  for (const [name, value] of Object.entries(token.extra)) {
    if (!Object.hasOwn(doc, name)) doc[name] = value;
  }
  for (const name of Object.keys(doc)) if (doc[name] === undefined) delete doc[name];
  return doc;
}

/** The token with `fields` set by name, known fields typed and the rest in `extra`. Pure. */
export function withFields(token: TokenDoc, fields: Record<string, unknown>): TokenDoc {
  return tokenFromDoc({ ...tokenToDoc(token), ...fields });
}

/** The token without the fields named, known or not. Pure. */
export function withoutFields(token: TokenDoc, names: readonly string[]): TokenDoc {
  const doc = tokenToDoc(token);
  for (const name of names) delete doc[name];
  return tokenFromDoc(doc);
}

/** A deletion as `_bulk_docs` takes it: CouchDB's bare tombstone, guarded by the `_rev` read. */
export type Tombstone = { _id: string; _rev?: string; _deleted: true };

/** What to send for a patched token or a deletion. */
export function docToWrite(doc: TokenDoc | Tombstone): StoredToken | Tombstone {
  return 'extra' in doc ? tokenToDoc(doc) : doc;
}
