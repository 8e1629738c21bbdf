import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { writeDemoSandbox } from '../../src/demo/demoSandbox';
import { bulkCreateTokens } from '../../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { ensureDesignDoc } from '../../src/picas/designDocStore';
import type { StoredToken } from '../../src/picas/tokenDoc';
import type { NewToken } from '../../src/picas/tokens';
import { couchNodeBaseUrl, createTestDatabase, type TestDatabase } from './couch';

export const DIST_PILOT = resolve(__dirname, '../../dist/pilot.js');

export interface PilotWorld {
  db: TestDatabase;
  picas: PicasDb;
  type: string;
  dir: string;
  sandboxUrl: string;
  ledger: string;
  /** Environment a pilot process needs: PICAS_URL with credentials, PICAS_DB, DEMO_LEDGER. */
  env: Record<string, string>;
  /** PICAS_URL of node `i` of the server (round robin): pilots spread over a cluster's nodes. */
  nodeEnv(i: number): Record<string, string>;
  /** Starts `node dist/pilot.js --type T ...args` as a real process. */
  startPilot(args?: string[], env?: Record<string, string>): ResultPromise<{ reject: false; all: true }>;
  /** `node dist/pilot.js ARGV` with nothing added (the legacy positional form). */
  startPilotRaw(argv: string[], env?: Record<string, string>): ResultPromise<{ reject: false; all: true }>;
  token(id: string): Promise<StoredToken>;
  ledgerLines(): Promise<string[]>;
}

export interface PilotWorldOptions {
  tokens: NewToken[];
  masterScript?: string;
  type?: string;
}

/** What a pilot process needs to reach `db`: PATH, HOME, PICAS_URL with credentials, PICAS_DB. */
export function pilotProcessEnv(db: TestDatabase, home: string): Record<string, string> {
  const credentialed = new URL(db.baseUrl);
  credentialed.username = db.user;
  credentialed.password = db.password;
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    PICAS_URL: credentialed.toString(),
    PICAS_DB: db.name,
  };
}

/** A database with the design doc, a demo-style sandbox tarball on disk and the given tokens. */
export async function createPilotWorld(options: PilotWorldOptions): Promise<PilotWorld> {
  const db = await createTestDatabase('lrt_pilot');
  const type = options.type ?? 'pilottest';
  const dir = await mkdtemp(join(tmpdir(), 'lrt-pilot-world-'));
  const picas = openPicas({ url: db.baseUrl, database: db.name, user: db.user, password: db.password });
  await ensureDesignDoc(picas, type);
  const sandbox = await writeDemoSandbox(dir, options.masterScript);
  const sandboxUrl = `file://${sandbox}`;
  const tokens = options.tokens.map((t) => ({ ...t, fields: { SBXloc: sandboxUrl, ...t.fields } }));
  const report = await bulkCreateTokens(picas, type, tokens);
  if (report.failed.length > 0) throw new Error(`seeding tokens failed: ${JSON.stringify(report.failed)}`);
  const ledger = join(dir, 'ledger.txt');
  const env = {
    ...pilotProcessEnv(db, dir),
    DEMO_LEDGER: ledger,
    DEMO_SLEEP: '0',
  };
  const nodeEnv = (i: number) => {
    const node = new URL(couchNodeBaseUrl(i));
    node.username = db.user;
    node.password = db.password;
    return { PICAS_URL: node.toString() };
  };
  return {
    db,
    picas,
    type,
    nodeEnv,
    dir,
    sandboxUrl,
    ledger,
    env,
    startPilot: (args = [], extraEnv = {}) =>
      execa('node', [DIST_PILOT, '--type', type, '--workdir', join(dir, 'work'), '--grace', '2', ...args], {
        env: { ...env, ...extraEnv },
        extendEnv: false,
        reject: false,
        all: true,
      }),
    startPilotRaw: (argv, extraEnv = {}) =>
      execa('node', [DIST_PILOT, ...argv], {
        env: { ...env, ...extraEnv },
        extendEnv: false,
        reject: false,
        all: true,
      }),
    token: (id) => picas.db.get(id),
    ledgerLines: async () => {
      try {
        return (await readFile(ledger, 'utf8')).split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

/** n tokens with a one-line srm.txt each, ids t_<type>_L1_SB<nnn>. */
export function demoTokens(type: string, n: number, fields: Record<string, unknown> = {}): NewToken[] {
  return Array.from({ length: n }, (_, i) => {
    const sb = String(i).padStart(3, '0');
    const surl = `srm://srm.grid.sara.nl:8443/pnfs/grid.sara.nl/data/lofar/ops/projects/demo/1/L1_SB${sb}_uv.MS_x.tar\n`;
    return {
      id: `t_${type}_L1_SB${sb}`,
      fields: { OBSID: 'L1', STARTSB: sb, ...fields },
      attachments: [{ name: 'srm.txt', contentType: 'text/plain', data: Buffer.from(surl) }],
    };
  });
}

/** Polls `check` until it returns a value (not undefined), at most `ms`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  ms = 30_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
