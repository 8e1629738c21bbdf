import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isLrtError, type LrtError } from '../../src/core';
import { createStagerClient, parseProgress, resolveStagerSettings } from '../../src/staging';
import { encodeFault } from '../../src/staging/xmlrpc';
import { manualClock, type StagerDouble, startStagerServer } from '../helpers/stagerServer';

const FIXTURES = join(__dirname, '../fixtures/staging');
const progressSample = JSON.parse(readFileSync(join(FIXTURES, 'lta_getprogress_sample.json'), 'utf8'));
const SURLS = readFileSync(join(FIXTURES, 'srm_50_sara.txt'), 'utf8').split('\n').filter(Boolean);
const [SAMPLE_ID, SAMPLE] = Object.entries(progressSample)[0] as [string, Record<string, string>];

let servers: StagerDouble[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function double(options: Parameters<typeof startStagerServer>[0] = {}) {
  const server = await startStagerServer({
    firstId: Number(SAMPLE_ID),
    userId: SAMPLE['User id'],
    ...options,
  });
  servers.push(server);
  return server;
}

function clientFor(
  server: { url: string; user: string; password: string },
  extra: { timeoutMs?: number; max?: number } = {},
) {
  return createStagerClient(
    resolveStagerSettings({
      flags: { url: server.url },
      env: { LOFAR_LTA_USER: server.user, LOFAR_LTA_PWD: server.password },
      ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
      ...(extra.max ? { maxSurlsPerRequest: extra.max } : {}),
    }),
  );
}

async function caught(promise: Promise<unknown>): Promise<LrtError> {
  try {
    await promise;
  } catch (err) {
    if (isLrtError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('stager client against the local XML-RPC stager', () => {
  it('submits the notebook list as ONE request and sees the progress the notebook printed', async () => {
    const clock = manualClock();
    const server = await double({ now: clock.now, phaseMs: 60_000 });
    const client = clientFor(server);
    const ids = await client.stage(SURLS);
    expect(ids).toEqual([Number(SAMPLE_ID)]);
    expect(server.calls.filter((c) => c.method === 'LtaStager.add_getid')).toHaveLength(1);
    expect(server.calls[0]!.params[0]).toEqual(SURLS);

    clock.advance(60_000); // into "scheduled", as in the notebook
    expect(await client.status(ids[0]!)).toBe(SAMPLE.Status);
    expect(await client.call('LtaStager.getprogress')).toEqual(progressSample);
    const [request] = await client.progress();
    expect(request).toEqual(parseProgress(progressSample)[0]);
    expect(request).toMatchObject({
      id: Number(SAMPLE_ID),
      fileCount: Number(SAMPLE['File count']),
      filesDone: Number(SAMPLE['Files done']),
      location: SAMPLE.Location,
      flaggedAbort: false,
    });
  });

  it('follows a request from new to success while files come online', async () => {
    const clock = manualClock();
    const server = await double({ now: clock.now, phaseMs: 1000, fileMs: 100 });
    const client = clientFor(server);
    const [id] = await client.stage(SURLS.slice(0, 5));
    expect(await client.status(id!)).toBe('new');
    expect(await client.stagedSurls(id!)).toEqual([]);
    clock.advance(1000);
    expect(await client.status(id!)).toBe('scheduled');
    clock.advance(1000);
    expect(await client.status(id!)).toBe('in progress');
    expect(await client.stagedSurls(id!)).toEqual(SURLS.slice(0, 1));
    clock.advance(200);
    expect(await client.stagedSurls(id!)).toEqual(SURLS.slice(0, 3));
    expect((await client.progress())[0]).toMatchObject({
      id,
      status: 'in progress',
      filesDone: 3,
      fileCount: 5,
      percentDone: 60,
    });
    clock.advance(200);
    expect(await client.status(id!)).toBe('success');
    expect(await client.stagedSurls(id!)).toEqual(SURLS.slice(0, 5));
    // A finished request leaves the progress list.
    expect(await client.progress()).toEqual([]);
    expect(await client.srmToken(id!)).toBe(`srm-token-${id}`);
  });

  it('splits a list only above the size limit, drops duplicates, and can ask for no e-mails', async () => {
    const server = await double();
    const client = clientFor(server, { max: 20 });
    const ids = await client.stage([...SURLS, SURLS[0]!]);
    expect(ids).toHaveLength(Math.ceil(SURLS.length / 20));
    const sent = server.calls.map((c) => c.params[0] as string[]);
    expect(sent.flat()).toEqual(SURLS);
    expect(sent.map((s) => s.length)).toEqual([20, 20, SURLS.length - 40]);

    const quiet = await clientFor(server).stage(SURLS.slice(0, 3), { notify: false });
    expect(server.requests.get(quiet[0]!)!.notify).toBe(false);
    expect(server.calls.at(-1)!.params).toEqual([SURLS.slice(0, 3), false]);
  });

  it('aborts, reschedules a request on hold, and reports faults on bad ids clearly', async () => {
    const clock = manualClock();
    const server = await double({ now: clock.now });
    const client = clientFor(server);
    const [id] = await client.stage(SURLS.slice(0, 3));
    server.hold(id!);
    expect(await client.status(id!)).toBe('on hold');
    await client.reschedule(id!);
    expect(await client.status(id!)).toBe('scheduled');
    await client.abort(id!);
    expect(await client.status(id!)).toBe('aborted');

    const err = await caught(client.status(424242));
    expect(err.code).toBe('E_STAGER_FAULT');
    expect(err.message).toMatch(
      /LtaStager\.getstatus failed at the LTA stager: No staging request with ID 424242 \(fault 1\)/,
    );
    expect(err.details).toMatchObject({ faultCode: 1 });
    expect((await caught(client.storageInfo())).code).toBe('E_STAGER_FAULT');
  });

  it('turns a 401 into an authentication error that names the user, never the password', async () => {
    const server = await double();
    const client = clientFor({ ...server, password: 'wrong-Passw0rd' });
    const err = await caught(client.progress());
    expect(err.code).toBe('E_STAGER_AUTH');
    expect(err.message).toMatch(/refused user "lofaruser" \(HTTP 401\)/);
    expect(err.message).toMatch(/LOFAR_LTA_USER\/LOFAR_LTA_PWD/);
    expect(JSON.stringify({ message: err.message, ...err.toJSON() })).not.toContain('wrong-Passw0rd');
    expect(server.calls).toHaveLength(0);
  });

  it('times out a stager that does not answer', async () => {
    const server = await double({ delayMs: 1500 });
    const started = Date.now();
    const err = await caught(clientFor(server, { timeoutMs: 200 }).progress());
    expect(err.code).toBe('E_TIMEOUT');
    expect(err.message).toMatch(
      /^LtaStager\.getprogress: no answer from the LTA stager at http:\S+ within 0\.2 s$/,
    );
    expect(Date.now() - started).toBeLessThan(1400);
  });

  it('says when the stager cannot be reached', async () => {
    const server = await double();
    await server.close();
    servers = [];
    const err = await caught(clientFor(server).progress());
    expect(err.code).toBe('E_STAGER');
    expect(err.message).toMatch(/cannot reach the LTA stager at http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/);
  });
});

describe('stager client against servers that misbehave', () => {
  async function rawServer(status: number, body: string) {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status, { 'content-type': 'text/html' }).end(body));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/xmlrpc`;
    servers.push({ close: () => new Promise<void>((d) => server.close(() => d())) } as StagerDouble);
    return url;
  }

  it('scrubs the password from a fault that echoes it', async () => {
    const password = 'echo-me-Pw9';
    const url = await rawServer(
      200,
      encodeFault(1, `ProtocolError for lofaruser:${password}@webportal.astron.nl`),
    );
    const err = await caught(clientFor({ url, user: 'lofaruser', password }).progress());
    expect(err.code).toBe('E_STAGER_FAULT');
    expect(err.message).toContain('ProtocolError for lofaruser:***@webportal');
    expect(JSON.stringify(err.toJSON())).not.toContain(password);
  });

  it('reports an HTML error page or a non-XML-RPC 200 answer with its status', async () => {
    const gateway = await rawServer(502, '<html><body><h1>502 Bad Gateway</h1></body></html>');
    const err = await caught(clientFor({ url: gateway, user: 'u', password: 'pw-123' }).progress());
    expect(err.code).toBe('E_STAGER');
    expect(err.message).toMatch(/HTTP 502 from the LTA stager at .*: 502 Bad Gateway/);

    const page = await rawServer(200, '<html><body>maintenance</body></html>');
    const err2 = await caught(clientFor({ url: page, user: 'u', password: 'pw-123' }).progress());
    expect(err2.code).toBe('E_STAGER');
    expect(err2.message).toMatch(/sent no XML-RPC answer: expected <methodResponse>, found <html>/);
  });
});
