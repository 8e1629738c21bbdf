import { type Dispatcher, request } from 'undici';
import { formatSeconds, type Logger, LrtError, scrubSecrets, silentLogger } from '../core';
import { parseProgress, planStageRequests, requestIdOf, type StageRequest } from './requests';
import type { StagerSettings } from './settings';
import {
  decodeMethodResponse,
  encodeMethodCall,
  XmlRpcFault,
  XmlRpcFormatError,
  type XmlRpcValue,
} from './xmlrpc';

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export interface StagerClientOptions {
  /** An undici dispatcher (an Agent with TLS options, a proxy); the global one by default. */
  dispatcher?: Dispatcher;
  logger?: Logger;
  /** Cancels every call of this client. */
  signal?: AbortSignal;
}

export interface StageOptions {
  /** false asks the stager not to send its e-mails (the second add_getid argument). */
  notify?: boolean;
}

/** The LTA stager's XML-RPC methods (docs/lta-sites.md), one function each. */
export interface StagerClient {
  readonly url: string;
  readonly user: string;
  /** Any method, raw: `LtaStager.<name>` with XML-RPC params. */
  call(method: string, params?: readonly XmlRpcValue[]): Promise<XmlRpcValue>;
  /** add_getid: the whole list in one request (chunked only above maxSurlsPerRequest); the ids. */
  stage(surls: readonly string[], options?: StageOptions): Promise<number[]>;
  /** getstatus: `new`, `scheduled`, `in progress`, `success` ... */
  status(id: number): Promise<string>;
  /** getprogress: the user's own running requests. */
  progress(): Promise<StageRequest[]>;
  /** getstagedurls: the SURLs of the request already online. */
  stagedSurls(id: number): Promise<string[]>;
  /** gettoken: the SRM request token. */
  srmToken(id: number): Promise<string>;
  abort(id: number): Promise<XmlRpcValue>;
  reschedule(id: number): Promise<XmlRpcValue>;
  /** getsrmstorageinfo (support role only). */
  storageInfo(): Promise<XmlRpcValue>;
}

function bodyExcerpt(body: string): string {
  const flat = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}...` : flat;
}

function stringList(method: string, value: XmlRpcValue): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new LrtError('E_STAGER', `the stager answered ${method} with something other than a list of SURLs`);
  }
  return value as string[];
}

/** A client for the LTA stager over undici, with HTTP basic credentials. */
export function createStagerClient(
  settings: StagerSettings,
  options: StagerClientOptions = {},
): StagerClient {
  const logger = options.logger ?? silentLogger();
  const authorization = `Basic ${Buffer.from(`${settings.user}:${settings.password}`).toString('base64')}`;
  const scrub = (text: string) => scrubSecrets(text, [settings.password, authorization.slice(6)]);
  const fail = (
    code: 'E_STAGER' | 'E_STAGER_AUTH' | 'E_STAGER_FAULT' | 'E_TIMEOUT',
    message: string,
    details = {},
  ) => new LrtError(code, scrub(message), { details: { url: settings.url, ...details } });

  async function post(method: string, body: string): Promise<{ status: number; text: string }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, settings.timeoutMs);
    const cancel = () => controller.abort();
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      const res = await request(settings.url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', authorization, 'user-agent': 'grid-lrt' },
        body,
        signal: controller.signal,
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_RESPONSE_BYTES) {
          res.body.destroy();
          throw fail('E_STAGER', `${method}: the stager's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return { status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') };
    } catch (err) {
      if (err instanceof LrtError) throw err;
      const code = (err as { code?: string }).code;
      if (timedOut || (code !== undefined && TIMEOUT_CODES.has(code))) {
        throw fail(
          'E_TIMEOUT',
          `${method}: no answer from the LTA stager at ${settings.url} within ${formatSeconds(settings.timeoutMs)}`,
        );
      }
      if (options.signal?.aborted) throw fail('E_STAGER', `${method}: cancelled`);
      const why = code ?? (err as Error).message;
      throw fail('E_STAGER', `${method}: cannot reach the LTA stager at ${settings.url}: ${why}`);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', cancel);
    }
  }

  async function call(method: string, params: readonly XmlRpcValue[] = []): Promise<XmlRpcValue> {
    const started = Date.now();
    const { status, text } = await post(method, encodeMethodCall(method, params));
    logger.debug({ method, status, ms: Date.now() - started }, 'stager call');
    if (status === 401 || status === 403) {
      throw fail(
        'E_STAGER_AUTH',
        `${method}: the LTA stager at ${settings.url} refused user "${settings.user}" (HTTP ${status}): ` +
          `check the LTA account from ${settings.source}`,
        { status },
      );
    }
    if (status !== 200) {
      throw fail(
        'E_STAGER',
        `${method}: HTTP ${status} from the LTA stager at ${settings.url}: ${bodyExcerpt(text)}`,
        {
          status,
        },
      );
    }
    try {
      return decodeMethodResponse(text);
    } catch (err) {
      if (err instanceof XmlRpcFault) {
        throw fail(
          'E_STAGER_FAULT',
          `${method} failed at the LTA stager: ${err.faultString} (fault ${err.faultCode})`,
          {
            faultCode: err.faultCode,
            faultString: scrub(err.faultString),
          },
        );
      }
      if (err instanceof XmlRpcFormatError) {
        throw fail(
          'E_STAGER',
          `${method}: the LTA stager at ${settings.url} sent no XML-RPC answer: ${err.message}`,
        );
      }
      throw err;
    }
  }

  const stager = (name: string, params: readonly XmlRpcValue[] = []) => call(`LtaStager.${name}`, params);

  async function stage(surls: readonly string[], opts: StageOptions = {}): Promise<number[]> {
    const chunks = planStageRequests(surls, settings.maxSurlsPerRequest);
    if (chunks.length === 0) throw new LrtError('E_USAGE', 'nothing to stage: the list holds no SURLs');
    const ids: number[] = [];
    for (const [index, chunk] of chunks.entries()) {
      const params: XmlRpcValue[] = opts.notify === false ? [chunk, false] : [chunk];
      try {
        ids.push(requestIdOf(await stager('add_getid', params)));
      } catch (err) {
        if (ids.length === 0 || !(err instanceof LrtError)) throw err;
        throw new LrtError(
          err.code,
          `${err.message} (request ${index + 1} of ${chunks.length}; already submitted: ${ids.join(', ')})`,
          { cause: err, details: { ...err.details, submitted: ids } },
        );
      }
    }
    logger.info({ surls: surls.length, requests: ids }, 'staging submitted');
    return ids;
  }

  return {
    url: settings.url,
    user: settings.user,
    call,
    stage,
    status: async (id) => {
      const value = await stager('getstatus', [id]);
      if (typeof value !== 'string')
        throw fail('E_STAGER', `the stager answered getstatus ${id} with a ${typeof value}`);
      return value;
    },
    progress: async () => parseProgress(await stager('getprogress')),
    stagedSurls: async (id) => stringList('getstagedurls', await stager('getstagedurls', [id])),
    srmToken: async (id) => String(await stager('gettoken', [id])),
    abort: (id) => stager('abort', [id]),
    reschedule: (id) => stager('reschedule', [id]),
    storageInfo: () => stager('getsrmstorageinfo'),
  };
}
