import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage, isLrtError, LrtError } from '../core';
import {
  buildStatusReport,
  readStatusInput,
  readTokenPage,
  type StatusReport,
  TOKEN_PAGE_MAX,
} from '../monitor';
import { readAttachment } from '../picas/attachments';
import { isDbRefusal, type PicasDb } from '../picas/client';
import { parseLogAttachmentName } from '../picas/logNames';
import { isLogAttachment } from '../picas/protocol';
import { CLIENT_JS } from './client';
import { PAGE_CSS, PAGE_HTML } from './page';

export interface StatusServerOptions {
  picas: PicasDb;
  /** Called once when the database refuses the credentials: the server then stops asking. */
  onRefused?: (err: LrtError) => void;
  type: string;
  host?: string;
  port?: number;
  /** How often the page polls (seconds). */
  refreshSeconds?: number;
  /** Finished tokens read per state for times and rates. */
  maxDocs?: number;
}

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

// The page loads nothing from elsewhere and runs no inline script.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function httpStatusOf(err: unknown): number {
  if (!isLrtError(err)) return 500;
  if (['E_TOKEN_NOT_FOUND', 'E_ATTACHMENT', 'E_NOT_FOUND'].includes(err.code)) return 404;
  if (err.code === 'E_USAGE') return 400;
  return 502;
}

/** A whole-number query parameter from `min` to `max`: outside it a 400, never a silent clamp. */
function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  const n = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new LrtError('E_USAGE', `${name} must be a whole number from ${min} to ${max}, got ${raw}`);
  }
  return n;
}

/**
 * The status page server: `/` (page), `/app.js`, `/app.css`, `/api/status`, `/api/tokens`,
 * `/api/logs?token=&name=`. Read-only; status reads are shared for a second between requests.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const { picas, type } = options;
  const refresh = options.refreshSeconds ?? 5;
  const page = PAGE_HTML.replace(
    '<html lang="en">',
    `<html lang="en" data-refresh="${Math.round(refresh * 1000)}">`,
  );
  // A refused login is not asked again on every refresh of every open page: that would lock the
  // account (CouchDB 3.4+). The page shows the refusal until `lrt serve` is restarted.
  let refused: LrtError | undefined;
  let cached: { at: number; report: Promise<StatusReport> } | undefined;
  const status = () => {
    if (!cached || Date.now() - cached.at > 1000) {
      const report = readStatusInput(picas, type, { maxDocs: options.maxDocs }).then(buildStatusReport);
      cached = { at: Date.now(), report };
      report.catch(() => {
        cached = undefined;
      });
    }
    return cached.report;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET');
    if (refused && url.pathname.startsWith('/api/')) throw refused;
    switch (url.pathname) {
      case '/':
      case '/index.html':
        return send(res, 200, 'text/html; charset=utf-8', page);
      case '/app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', CLIENT_JS);
      case '/app.css':
        return send(res, 200, 'text/css; charset=utf-8', PAGE_CSS);
      case '/api/status':
        return sendJson(res, 200, await status());
      case '/api/tokens': {
        const state = url.searchParams.get('state') || undefined;
        const after = url.searchParams.get('after') || undefined;
        const before = url.searchParams.get('before') || undefined;
        const tokenPage = await readTokenPage(picas, type, {
          ...(state ? { state } : {}),
          ...(after ? { after } : {}),
          ...(before ? { before } : {}),
          limit: intParam(url, 'limit', 50, 1, TOKEN_PAGE_MAX),
        });
        return sendJson(res, 200, tokenPage);
      }
      case '/api/logs': {
        const token = url.searchParams.get('token') ?? '';
        const name = url.searchParams.get('name') ?? '';
        // Only logs: other attachments (parsets, srm lists) are not this page's to hand out.
        if (!parseLogAttachmentName(name) && !isLogAttachment(name)) {
          throw new LrtError('E_USAGE', `${JSON.stringify(name)} is not a log attachment`);
        }
        const { data } = await readAttachment(picas, token, name);
        return send(res, 200, 'text/plain; charset=utf-8', data);
      }
      default:
        return send(res, 404, 'text/plain', 'not found');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (isDbRefusal(err) && !refused) {
        refused = new LrtError(
          err.code,
          `${err.message}. Not asked again: restart 'lrt serve' once the credentials are fixed`,
          { details: err.details },
        );
        options.onRefused?.(refused);
        err = refused;
      }
      const code = isLrtError(err) ? err.code : 'E_INTERNAL';
      if (!res.headersSent) sendJson(res, httpStatusOf(err), { error: { code, message: errorMessage(err) } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
