import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { leaseOf } from '../../src/picas/protocol';
import { DIST_LRT, lrtProcess } from '../helpers/cli';
import { LOCKOUT_REASON, type LockoutServer, startLockoutServer } from '../helpers/lockoutServer';
import { createPilotWorld, demoTokens } from '../helpers/pilotWorld';
import { createSteeredWorld, groupGoneAt, nextWrite, steeredPayload } from './support/leaseWorld';

/*
 * CouchDB 3.4+ locks an account for some minutes after a few failed logins from one address
 * (HTTP 403 "Account is temporarily locked ..."). A fleet of pilots behind one NAT retrying a
 * wrong password would lock it for everyone. Real pilot and lrt processes against the lockout
 * stand-in (test/helpers/lockoutServer.ts) in front of the embedded server.
 */

const servers: LockoutServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function lockoutIn(front: string): Promise<LockoutServer> {
  const server = await startLockoutServer(front);
  servers.push(server);
  return server;
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

describe('the lockout stand-in', () => {
  it('answers 401 to wrong passwords, then 403 locked to the right one too', async () => {
    const world = await createPilotWorld({ type: 'lockproof', tokens: [] });
    const server = await lockoutIn(world.db.baseUrl);
    const get = (password: string) =>
      fetch(`${server.via(world.db.baseUrl)}/${world.db.name}`, {
        headers: { authorization: `Basic ${Buffer.from(`${world.db.user}:${password}`).toString('base64')}` },
      });
    expect((await get(world.db.password)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await get('wrong')).status).toBe(401);
    const locked = await get(world.db.password);
    expect(locked.status).toBe(403);
    expect(await locked.json()).toEqual({ error: 'forbidden', reason: LOCKOUT_REASON });
  });
});

describe('a pilot refused by the database stops at once and never retries', () => {
  it('wrong password: one request, exit 4, the message says why it does not retry', async () => {
    const world = await createPilotWorld({ type: 'wrongpw', tokens: demoTokens('wrongpw', 2) });
    const server = await lockoutIn(world.db.baseUrl);
    const url = withPassword(server.via(world.env.PICAS_URL!), 'not-the-password');
    const result = await world.startPilot(['--db-wait', '30'], { PICAS_URL: url });
    expect(result.exitCode, result.all).toBe(4);
    expect(server.requests.map((r) => r.status)).toEqual([401]);
    expect(result.stderr).toMatch(
      new RegExp(`^pilot: .*refused user "${world.db.user}" \\(HTTP 401\\): wrong user or password`, 'm'),
    );
    expect(result.stderr).toContain('The pilot stopped at once and does not retry');
    expect(result.stderr).not.toContain('not-the-password');
    expect((await world.token('t_wrongpw_L1_SB000')).status).toBe('todo');
  });

  it('ten pilots with a wrong password behind one address make ten failed logins, not more', async () => {
    const world = await createPilotWorld({ type: 'fleet', tokens: demoTokens('fleet', 3) });
    const server = await lockoutIn(world.db.baseUrl);
    const url = withPassword(server.via(world.env.PICAS_URL!), 'stale-password');
    const results = await Promise.all(
      Array.from({ length: 10 }, () => world.startPilot(['--db-wait', '30'], { PICAS_URL: url })),
    );
    expect(results.map((r) => r.exitCode)).toEqual(Array(10).fill(4));
    // Five failures lock the account; the pilots that came later are told it is locked.
    expect(server.requests).toHaveLength(10);
    expect(server.requests.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(5);
    const lockedOut = results.filter((r) => r.stderr.includes('has locked the account'));
    expect(lockedOut.length).toBe(server.requests.filter((r) => r.status === 403).length);
  });

  it('account locked: the right password gets one 403, the pilot exits 4 with one clear message', async () => {
    const world = await createPilotWorld({ type: 'locked', tokens: demoTokens('locked', 1) });
    const server = await lockoutIn(world.db.baseUrl);
    server.lock(world.db.user);
    const result = await world.startPilot(['--db-wait', '30'], {
      PICAS_URL: server.via(world.env.PICAS_URL!),
    });
    expect(result.exitCode, result.all).toBe(4);
    expect(server.requests.map((r) => r.status)).toEqual([403]);
    // Off a terminal the log is JSON; the reason also ends stderr as one plain line.
    const plain = result.stderr.split('\n').filter((line) => line.startsWith('pilot: '));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toContain(
      `has locked the account of user "${world.db.user}" after repeated failed logins (HTTP 403: ${LOCKOUT_REASON})`,
    );
    expect(result.stderr).toContain('stop every pilot and command that logs in with a wrong password');
    expect(result.stderr).not.toContain(world.db.password);
  });

  it('locked while a token runs: the payload stops, nothing more is asked, the pilot exits 4', async () => {
    const world = await createSteeredWorld('lockmid');
    const id = 't_lockmid';
    const payload = steeredPayload(world, 'lockmid');
    const server = await lockoutIn(world.db.baseUrl);
    const pilot = world.startPilot(['--lease', '12', '--json'], {
      ...payload.env,
      PICAS_URL: server.via(world.env.PICAS_URL!),
    });
    const pgid = await payload.started();
    await nextWrite(world, id, (await world.token(id))._rev);
    // The renewal is over once its last reply is in (on a cluster, that of its settling read).
    await server.settled();
    const before = server.requests.length;
    server.lock(world.db.user);

    const goneAt = await groupGoneAt(pgid);
    const token = await world.token(id);
    expect(goneAt).toBeLessThan(leaseOf(token)!.expires * 1000);
    const result = await pilot;
    expect(result.exitCode, result.all).toBe(4);
    // The one renewal that met the lock, then nothing: no retry, no final write, no next claim.
    expect(server.requests.slice(before).map((r) => r.status)).toEqual([403]);
    expect(result.stderr).toMatch(/lease renewal refused, not retried: .*has locked the account/);
    expect(await world.ledgerLines()).toEqual([]);
  });
});

describe('lrt commands refused by the database', () => {
  it('locked account: one clear line naming the lock, exit 4, one request', async () => {
    const world = await createPilotWorld({ type: 'lrtlock', tokens: demoTokens('lrtlock', 1) });
    const server = await lockoutIn(world.db.baseUrl);
    server.lock(world.db.user);
    const env = { PICAS_URL: server.via(world.env.PICAS_URL!), PICAS_DB: world.db.name };
    for (const args of [
      ['tokens', 'list', '--type', 'lrtlock'],
      ['status', '--type', 'lrtlock'],
    ]) {
      const before = server.requests.length;
      const res = await lrtProcess(args, { env });
      expect(res.exitCode, res.stderr).toBe(4);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/^lrt: .*has locked the account of user ".*" after repeated failed logins/);
      expect(server.requests.length - before).toBe(1);
    }
  });

  it('lrt serve asks once: refused at start it ends; refused while serving, refreshes do not ask again', async () => {
    const world = await createPilotWorld({ type: 'servelock', tokens: demoTokens('servelock', 1) });
    const server = await lockoutIn(world.db.baseUrl);
    const env = (url: string) => ({ PICAS_URL: url, PICAS_DB: world.db.name });

    // A wrong password: one failed login, before it listens, and one line saying so.
    const wrong = await lrtProcess(['serve', '--type', 'servelock', '--port', '0'], {
      env: env(withPassword(server.via(world.env.PICAS_URL!), 'wrong')),
    });
    expect(wrong.exitCode).toBe(4);
    expect(wrong.stdout).toBe('');
    expect(server.requests.filter((r) => r.status === 401)).toHaveLength(1);
    expect(wrong.stderr.split('\n').filter((l) => l.startsWith('lrt: '))).toHaveLength(1);

    // The account locked while the page is served: the page says so, refreshes do not ask again.
    const serve = execa('node', [DIST_LRT, 'serve', '--type', 'servelock', '--port', '0'], {
      env: { HOME: '/nonexistent-home', PATH: process.env.PATH, ...env(server.via(world.env.PICAS_URL!)) },
      extendEnv: false,
      reject: false,
    });
    try {
      const url = await new Promise<string>((found) =>
        serve.stdout.on('data', (chunk: Buffer) => {
          const line = /^http:\/\/\S+/m.exec(chunk.toString());
          if (line) found(line[0]);
        }),
      );
      server.lock(world.db.user);
      const first = await fetch(new URL('api/status', url));
      const asked = server.requests.length;
      const answers = [first];
      for (let i = 0; i < 4; i++) answers.push(await fetch(new URL('api/status', url)));
      expect(answers.map((a) => a.status)).toEqual(Array(5).fill(first.status));
      const body = (await answers[4]!.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('E_DB_AUTH');
      expect(body.error.message).toContain("Not asked again: restart 'lrt serve'");
      expect(server.requests).toHaveLength(asked);
    } finally {
      serve.kill('SIGINT');
    }
    const ended = await serve;
    expect(ended.stderr.split('\n').filter((l) => l.startsWith('lrt: '))).toHaveLength(1);
  });

  it('a user without a password is refused before any request, naming where a password is read', async () => {
    const world = await createPilotWorld({ type: 'nopw', tokens: [] });
    const server = await lockoutIn(world.db.baseUrl);
    const res = await lrtProcess(['tokens', 'list', '--type', 'nopw', '--user', 'admin'], {
      env: { PICAS_URL: server.via(world.db.baseUrl), PICAS_DB: world.db.name },
    });
    expect(res.exitCode).toBe(7);
    expect(res.stderr).toContain(
      'lrt: user "admin" is given but no password: set PICAS_USR_PWD, put password= in ~/.picasrc',
    );
    expect(server.requests).toEqual([]);
    const pilot = await world.startPilotRaw(['--type', 'nopw'], {
      PICAS_URL: server.via(world.db.baseUrl),
      PICAS_USR: 'admin',
    });
    expect(pilot.exitCode).toBe(2);
    expect(pilot.stderr).toContain('user "admin" is given but no password');
    expect(server.requests).toEqual([]);
  });
});
