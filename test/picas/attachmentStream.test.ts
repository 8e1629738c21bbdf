import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLrtError } from '../../src/core';
import { openAttachmentStream } from '../../src/picas/attachmentStream';
import { readAttachment } from '../../src/picas/attachments';
import { openPicas, type PicasDb } from '../../src/picas/client';
import type { TokenDoc } from '../../src/picas/tokenDoc';
import { prepareInputs } from '../../src/pilot/inputs';

/**
 * A server that answers like CouchDB until the attachment body: it sends the headers and part of
 * the body, then resets the connection (a node crash, a dropped NAT entry on a grid site).
 */
async function startResettingServer(): Promise<{ server: Server; url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((socket) => {
    socket.once('data', (chunk) => {
      const path = chunk.toString().split(' ')[1] ?? '';
      hits.push(path);
      if (path.endsWith('/srm.txt')) {
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nsrm://partial',
        );
        setTimeout(() => socket.resetAndDestroy(), 30);
        return;
      }
      const doc = JSON.stringify({
        _id: 't_r',
        _rev: '1-a',
        type: 'r',
        lock: 0,
        done: 0,
        _attachments: { 'srm.txt': { stub: true, content_type: 'text/plain', length: 1000 } },
      });
      socket.end(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(doc)}\r\nConnection: close\r\n\r\n${doc}`,
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, url: `http://127.0.0.1:${address.port}`, hits };
}

describe('attachment downloads when the connection is reset mid-body', () => {
  let reset: Awaited<ReturnType<typeof startResettingServer>>;
  let picas: PicasDb;
  let dir: string;
  beforeAll(async () => {
    reset = await startResettingServer();
    picas = openPicas({ url: reset.url, database: 'db', user: 'alice', password: 'pw-not-shown' });
    dir = await mkdtemp(join(tmpdir(), 'lrt-attreset-'));
  });
  afterAll(async () => {
    reset.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('openAttachmentStream: the reset reaches the reader as an error (no crash, no hang)', async () => {
    const stream = await openAttachmentStream(picas, 't_r', 'srm.txt');
    const chunks: Buffer[] = [];
    const read = (async () => {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    })();
    await expect(read).rejects.toThrow();
    expect(Buffer.concat(chunks).toString()).toBe('srm://partial');
  });

  it('readAttachment: E_DB_UNREACHABLE naming the attachment and token, password scrubbed', async () => {
    const err = await readAttachment(picas, 't_r', 'srm.txt').catch((e: unknown) => e);
    expect(isLrtError(err, 'E_DB_UNREACHABLE'), String(err)).toBe(true);
    expect(String((err as Error).message)).toContain('srm.txt of token t_r');
    expect(String((err as Error).message)).not.toContain('pw-not-shown');
  });

  it("the pilot's inputs step: a transient error it can retry, not a crash", async () => {
    const token: TokenDoc = {
      extra: {},
      _id: 't_r',
      type: 'r',
      lock: 1,
      done: 0,
      _attachments: { 'srm.txt': { stub: true as const, content_type: 'text/plain', length: 1000 } },
    };
    const err = await prepareInputs({
      picas,
      token,
      workDir: dir,
      statusFile: join(dir, 'pipeline_status'),
      baseEnv: {},
      exportCredentials: false,
      credentials: picas.settings,
    }).catch((e: unknown) => e);
    expect(isLrtError(err, 'E_DB_UNREACHABLE'), String(err)).toBe(true);
    expect(await readFile(join(dir, 'srm.txt'), 'utf8')).toBe('srm://partial');
    // Credentials go in a header, never in the path.
    expect(reset.hits.join(' ')).not.toContain('alice');
  });
});
