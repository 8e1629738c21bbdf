import nano from 'nano';
import { DecoratorHandler, type Dispatcher } from 'undici';
import { createServerClock, isLrtError, LrtError, type ServerClock, scrubSecrets } from '../core';
import type { PicasSettings } from './connectionSettings';
import { couchDispatcher } from './couchHttp';
import type { DbWaitNotice } from './dbRetry';
import type { StoredToken } from './tokenDoc';

/** An open PiCaS database: the nano handles plus the settings they came from. */
export interface PicasDb {
  settings: PicasSettings;
  server: nano.ServerScope;
  db: nano.DocumentScope<StoredToken>;
  name: string;
  /**
   * Every request of this handle, nano's and couchHttp's, goes through it: the connect, header and
   * body timeouts of couchDispatcher, and each reply's Date header read into `clock`.
   */
  dispatcher: Dispatcher;
  /** The server's time, learned from its replies: lease times are written and compared on it. */
  clock: ServerClock;
  /**
   * Told when a view read waits for an index the server is still building (fetchView retries it):
   * `lrt` prints the message on stderr, the pilot logs it. Unset: the wait is silent.
   */
  onWait?: (notice: DbWaitNotice) => void;
  /** How long a view read waits for an index being built before it fails (default: no limit). */
  indexWaitMs?: number;
}

export function openPicas(settings: PicasSettings): PicasDb {
  const url = new URL(settings.url);
  if (settings.user) url.username = encodeURIComponent(settings.user);
  if (settings.password) url.password = encodeURIComponent(settings.password);
  const clock = createServerClock();
  const dispatcher = couchDispatcher.compose(learnServerTime(clock));
  // nano's typings name the Agent class where it takes (and passes to fetch) any dispatcher.
  const server = nano({ url: url.toString().replace(/\/$/, ''), agentOptions: dispatcher as never });
  return {
    settings,
    server,
    db: server.use<StoredToken>(settings.database),
    name: settings.database,
    dispatcher,
    clock,
  };
}

/** Feeds the Date header of every reply to `clock`, with the local times around the request. */
function learnServerTime(clock: ServerClock): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) => {
    const sentAt = clock.local();
    // Forwards every callback to `handler` (undici's typings leave the methods out).
    const observed: Dispatcher.DispatchHandlers = new DecoratorHandler(handler);
    const forward = observed.onHeaders!.bind(observed);
    observed.onHeaders = (status, headers, resume, text) => {
      clock.observe(headerValue(headers, 'date'), sentAt, clock.local());
      return forward(status, headers, resume, text);
    };
    return dispatch(options, observed);
  };
}

/** A header of undici's raw list (name, value, name, value ...). */
function headerValue(raw: Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toString('latin1').toLowerCase() === name) return raw[i + 1]!.toString('latin1');
  }
  return undefined;
}

/**
 * CouchDB 3.4+ answers every request of an account with this 403 for some minutes after a few
 * failed logins from one address: a fleet of pilots with a wrong password locks out everyone.
 */
const ACCOUNT_LOCKED_RE = /account is temporarily locked/i;

interface CouchErrorShape {
  statusCode?: number;
  error?: string;
  reason?: string;
  message?: string;
}

/**
 * What went wrong on the connection, without nano's wrapping ("error happened in your connection.
 * Reason: Error: connect ECONNREFUSED ..."). Node's fetch, which nano uses, refuses the ports the
 * fetch standard blocks (1, 9, 6000 ...) before connecting and says only "bad port".
 */
function connectionProblem(detail: string): string {
  const cause = detail.replace(/^error happened in your connection\. Reason: (?:\w*Error: )?/, '');
  return cause === 'bad port'
    ? "bad port: Node's fetch refuses this port (one the fetch standard blocks); run the server on another port"
    : cause;
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
  // CouchDB's error code (`timeout`, `conflict`...): what a retry decides on (dbRetry.ts), never `reason`.
  const details = {
    database: picas.name,
    url: picas.settings.url,
    status,
    ...(e.error ? { error: e.error } : {}),
  };
  if (status === undefined) {
    return new LrtError(
      'E_DB_UNREACHABLE',
      `${what}: cannot reach the PiCaS server at ${where}: ${connectionProblem(detail)}`,
      { details },
    );
  }
  const who = picas.settings.user ? `user "${picas.settings.user}"` : 'no credentials';
  if (status === 401) {
    return new LrtError(
      'E_DB_AUTH',
      `${what}: the server at ${picas.settings.url} refused ${who} (HTTP 401): wrong user or password; ` +
        'check PICAS_USR / PICAS_USR_PWD or ~/.picasrc',
      { details },
    );
  }
  if (status === 403 && ACCOUNT_LOCKED_RE.test(detail)) {
    return new LrtError(
      'E_DB_AUTH',
      `${what}: the server at ${picas.settings.url} has locked the account of ${who} after repeated ` +
        `failed logins (HTTP 403: ${detail}). Nothing gets in until the lock ends (some minutes): first ` +
        'stop every pilot and command that logs in with a wrong password, then fix PICAS_USR_PWD or ~/.picasrc',
      { details: { ...details, accountLocked: true } },
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

/**
 * The database refused us (HTTP 401, the 403 of a locked account, or 403 forbidden): nobody asks
 * again (pilots, `lrt serve`). Each failed login counts towards CouchDB 3.4+'s account lock,
 * which then shuts out every pilot and user of the account; no retry turns a refusal around.
 */
export function isDbRefusal(err: unknown): err is LrtError {
  return isLrtError(err, 'E_DB_AUTH') || isLrtError(err, 'E_DB_FORBIDDEN');
}

/**
 * What a 404 says is missing, by CouchDB 3's reasons ("Database does not exist.", "missing",
 * "missing_named_view") and the embedded server's ("no_db_file", "ddoc ... has no view named").
 */
export function missingOf(err: unknown): 'database' | 'document' | 'view' {
  const reason = (err as CouchErrorShape | undefined)?.reason ?? '';
  if (/database does not exist|no_db_file/i.test(reason)) return 'database';
  if (/missing_named_view|has no view named/i.test(reason)) return 'view';
  return 'document';
}

/** The HTTP status the server answered with: of nano's error, or of one couchError already wrapped. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof LrtError) return typeof err.details.status === 'number' ? err.details.status : undefined;
  return (err as CouchErrorShape | undefined)?.statusCode;
}

/**
 * No reply came (refused connection, reset, timeout): the request may or may not have been
 * carried out. An error of ours that is not about the wire (a settlement that found no end, a
 * lost lease) is an answer, not a missing one.
 */
export function gotNoReply(err: unknown): boolean {
  if (err instanceof LrtError) return err.code === 'E_DB_UNREACHABLE';
  return statusOf(err) === undefined;
}
