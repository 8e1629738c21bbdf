import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decodeMethodCall,
  encodeFault,
  encodeMethodResponse,
  type XmlRpcValue,
} from '../../src/staging/xmlrpc';

/*
 * A local LTA stager speaking XML-RPC over real HTTP with basic auth, for tests. A request moves
 * new -> scheduled -> in progress -> success as time passes (one `phaseMs` per early state, then
 * one file online every `fileMs`); finished requests leave getprogress. Unknown ids get a fault,
 * bad credentials a 401. Time comes from `now`, so tests can drive it with a manual clock.
 */

export interface StagerDoubleOptions {
  user?: string;
  password?: string;
  /** The LTA user id getprogress reports. */
  userId?: string;
  firstId?: number;
  phaseMs?: number;
  fileMs?: number;
  now?: () => number;
  /** Wait this long before answering (timeout tests). */
  delayMs?: number;
  /** Called before each authenticated call is handled (tests advance a manual clock here). */
  onCall?: (method: string) => void;
}

export interface StagedRequest {
  id: number;
  surls: string[];
  notify: boolean;
  created: number;
  aborted: boolean;
  onHold: boolean;
  /** Online files at the moment of the hold. */
  heldOnline: number;
}

export interface StagerDouble {
  url: string;
  user: string;
  password: string;
  /** Every call that passed authentication, in order. */
  calls: { method: string; params: XmlRpcValue[] }[];
  /** HTTP requests seen, including refused ones. */
  httpRequests: number;
  requests: Map<number, StagedRequest>;
  statusOf(id: number): string;
  onlineOf(id: number): string[];
  /** Puts a request on hold (maintenance): it stops progressing until rescheduled. */
  hold(id: number): void;
  close(): Promise<void>;
}

export function manualClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

class Fault extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function siteOf(surl: string): string {
  if (surl.includes('grid.sara.nl')) return 'sara';
  if (surl.includes('fz-juelich.de')) return 'juelich';
  if (surl.includes('psnc.pl')) return 'poznan';
  return 'unknown';
}

export async function startStagerServer(options: StagerDoubleOptions = {}): Promise<StagerDouble> {
  const user = options.user ?? 'lofaruser';
  const password = options.password ?? 'tape-s3cret:pw';
  const phaseMs = options.phaseMs ?? 1000;
  const fileMs = options.fileMs ?? 100;
  const now = options.now ?? Date.now;
  const requests = new Map<number, StagedRequest>();
  let nextId = options.firstId ?? 18748;

  const onlineCount = (r: StagedRequest): number => {
    if (r.onHold) return r.heldOnline;
    const elapsed = now() - r.created - 2 * phaseMs;
    return elapsed < 0 ? 0 : Math.min(r.surls.length, Math.floor(elapsed / fileMs) + 1);
  };
  const statusOf = (id: number): string => {
    const r = requests.get(id);
    if (!r) throw new Fault(1, `No staging request with ID ${id}`);
    if (r.aborted) return 'aborted';
    if (r.onHold) return 'on hold';
    const elapsed = now() - r.created;
    if (elapsed < phaseMs) return 'new';
    if (elapsed < 2 * phaseMs) return 'scheduled';
    return onlineCount(r) < r.surls.length ? 'in progress' : 'success';
  };
  const requestOf = (params: XmlRpcValue[]): StagedRequest => {
    const id = params[0];
    if (typeof id !== 'number' || params.length !== 1)
      throw new Fault(2, 'expected one int argument: the request id');
    const r = requests.get(id);
    if (!r) throw new Fault(1, `No staging request with ID ${id}`);
    return r;
  };

  const methods: Record<string, (params: XmlRpcValue[]) => XmlRpcValue> = {
    'LtaStager.add_getid': (params) => {
      const [surls, notify] = params;
      if (!Array.isArray(surls) || surls.length === 0 || !surls.every((s) => typeof s === 'string')) {
        throw new Fault(2, 'add_getid expects a non-empty list of SURLs');
      }
      if (!surls.every((s) => s.startsWith('srm://'))) throw new Fault(3, 'not a SURL in the list');
      const id = nextId++;
      requests.set(id, {
        id,
        surls,
        notify: notify !== false,
        created: now(),
        aborted: false,
        onHold: false,
        heldOnline: 0,
      });
      return id;
    },
    'LtaStager.getstatus': (params) => statusOf(requestOf(params).id),
    'LtaStager.getprogress': () => {
      const out: Record<string, XmlRpcValue> = {};
      for (const r of requests.values()) {
        const status = statusOf(r.id);
        if (status === 'success' || status === 'aborted') continue;
        const done = onlineCount(r);
        out[String(r.id)] = {
          Status: status,
          'File count': String(r.surls.length),
          'User id': options.userId ?? '2331',
          Location: siteOf(r.surls[0]!),
          'Files done': String(done),
          'Flagged abort': 'false',
          'Percent done': String(Math.floor((100 * done) / r.surls.length)),
        };
      }
      return out;
    },
    'LtaStager.getstagedurls': (params) => {
      const r = requestOf(params);
      return r.surls.slice(0, onlineCount(r));
    },
    'LtaStager.gettoken': (params) => `srm-token-${requestOf(params).id}`,
    'LtaStager.abort': (params) => {
      const r = requestOf(params);
      r.aborted = true;
      return true;
    },
    'LtaStager.reschedule': (params) => {
      const r = requestOf(params);
      if (!r.onHold) throw new Fault(4, `request ${r.id} is not on hold`);
      r.onHold = false;
      r.created = now() - phaseMs;
      return true;
    },
    'LtaStager.getsrmstorageinfo': () => {
      throw new Fault(5, 'permission denied: support role required');
    },
  };

  const double: StagerDouble = {
    url: '',
    user,
    password,
    calls: [],
    httpRequests: 0,
    requests,
    statusOf,
    onlineOf: (id) => {
      const r = requests.get(id);
      return r ? r.surls.slice(0, onlineCount(r)) : [];
    },
    hold(id) {
      const r = requests.get(id)!;
      r.heldOnline = onlineCount(r);
      r.onHold = true;
    },
    close: () => new Promise((done) => server.close(() => done())),
  };

  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    double.httpRequests += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="LTA"', 'content-type': 'text/html' });
      res.end('<html><body><h1>401 Unauthorized</h1></body></html>');
      return;
    }
    let body: string;
    try {
      const call = decodeMethodCall(Buffer.concat(chunks).toString('utf8'));
      const method = methods[call.method];
      if (!method) throw new Fault(-32601, `method "${call.method}" is not supported`);
      options.onCall?.(call.method);
      double.calls.push(call);
      body = encodeMethodResponse(method(call.params));
    } catch (err) {
      body = err instanceof Fault ? encodeFault(err.code, err.message) : encodeFault(-32700, String(err));
    }
    res.writeHead(200, { 'content-type': 'text/xml' }).end(body);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  double.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/service-public/xmlrpc`;
  return double;
}
