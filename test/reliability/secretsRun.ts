/**
 * The world of the secrets test: its own CouchDB-API server whose admin password is a known,
 * distinctive string, a fake proxy whose content is a marker, and a payload and a fake
 * globus-url-copy that record their command lines and environments. Everything the pilot
 * leaves behind can then be searched for the two secrets.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedCouch, startEmbeddedCouch } from '../../src/dbserver';
import { writeDemoSandbox } from '../../src/demo/demoSandbox';
import { bulkCreateTokens } from '../../src/picas/bulkCreate';
import { openPicas, type PicasDb } from '../../src/picas/client';
import { ensureDatabase, ensureDesignDoc } from '../../src/picas/designDocStore';

export const PASSWORD = 'Pw-7c1e9b-SECRET';
export const PROXY_MARKER = 'PROXY-MARKER-3f9a1c';
export const PROXY_CONTENT = `-----BEGIN CERTIFICATE-----\n${PROXY_MARKER}\nMIIB-not-a-real-proxy\n-----END CERTIFICATE-----\n`;

/** Each secret and the forms it would take in a header or an inline attachment. */
export function needles(user: string): string[] {
  return [
    ...new Set([
      PASSWORD,
      encodeURIComponent(PASSWORD),
      Buffer.from(PASSWORD).toString('base64'),
      Buffer.from(`${user}:${PASSWORD}`).toString('base64'),
      PROXY_MARKER,
      Buffer.from(PROXY_CONTENT).toString('base64'),
    ]),
  ];
}

/** Records what the pilot gave it, prints its environment (into the stdout attachment), then acts per token. */
export const RECORDING_MASTER = `#!/usr/bin/env bash
{
  echo "== args of the pilot (parent)"; ps -o args= -p "$PPID"
  echo "== own command line"; tr '\\0' ' ' < /proc/$$/cmdline; echo
  echo "== environment"; env
} > "$RECORD_DIR/payload-$TOKEN.txt"
env
case "$TOKEN" in
  t_fail) echo "failing on purpose" >&2; exit 3 ;;
  t_slow)
    if [ ! -e "$RECORD_DIR/slow-ran" ]; then
      touch "$RECORD_DIR/slow-ran"; echo $$ > "$RECORD_DIR/slow.pid"
      sleep 60 & wait $!
    fi ;;
esac
echo "done $TOKEN"
`;

/** globus-url-copy stand-in: records itself, then "downloads" by writing a line to the file:// target. */
const FAKE_GLOBUS_URL_COPY = `#!/usr/bin/env bash
{
  echo "== own command line"; tr '\\0' ' ' < /proc/$$/cmdline; echo
  echo "== parent"; ps -o args= -p "$PPID"
  echo "== environment"; env
} > "$RECORD_DIR/globus-url-copy-$$.txt"
src="\${@: -2:1}"; dst="\${@: -1}"
printf 'data of %s\\n' "\${src##*/}" > "\${dst#file://}"
`;

/** grid-proxy-info stand-in for the preflight: records itself, says one hour is left. */
const FAKE_GRID_PROXY_INFO = `#!/usr/bin/env bash
{
  echo "== own command line"; tr '\\0' ' ' < /proc/$$/cmdline; echo
  echo "== environment"; env
} > "$RECORD_DIR/grid-proxy-info-$$.txt"
echo 3600
`;

export interface SecretsWorld {
  server: EmbeddedCouch;
  picas: PicasDb;
  dir: string;
  records: string;
  proxy: string;
  bin: string;
  /** Environment of a pilot: PICAS_URL with the password, the proxy, the fake tool first on PATH. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function createSecretsWorld(
  types: Record<string, { id: string; fields?: Record<string, unknown> }[]>,
  master = RECORDING_MASTER,
) {
  const server = await startEmbeddedCouch({ adminPassword: PASSWORD });
  const dir = await mkdtemp(join(tmpdir(), 'lrt-secrets-'));
  const records = join(dir, 'records');
  const bin = join(dir, 'bin');
  await mkdir(records);
  await mkdir(bin);
  await writeFile(join(bin, 'globus-url-copy'), FAKE_GLOBUS_URL_COPY, { mode: 0o755 });
  await writeFile(join(bin, 'grid-proxy-info'), FAKE_GRID_PROXY_INFO, { mode: 0o755 });
  const proxy = join(dir, 'x509up_test');
  await writeFile(proxy, PROXY_CONTENT);
  await chmod(proxy, 0o600);
  const picas = openPicas({ url: server.url, database: 'secrets_db', user: 'admin', password: PASSWORD });
  await ensureDatabase(picas);
  const sandbox = `file://${await writeDemoSandbox(join(dir, 'sandbox'), master)}`;
  for (const [type, tokens] of Object.entries(types)) {
    await ensureDesignDoc(picas, type);
    const report = await bulkCreateTokens(
      picas,
      type,
      tokens.map((t) => ({
        id: t.id,
        fields: { SBXloc: sandbox, ...t.fields },
        attachments: [{ name: 'srm.txt', contentType: 'text/plain', data: Buffer.from(`${t.id} input\n`) }],
      })),
    );
    if (report.failed.length) throw new Error(`seeding failed: ${JSON.stringify(report.failed)}`);
  }
  const url = new URL(server.url);
  url.username = 'admin';
  url.password = PASSWORD;
  const env = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: dir,
    PICAS_URL: url.toString(),
    PICAS_DB: 'secrets_db',
    X509_USER_PROXY: proxy,
    RECORD_DIR: records,
  };
  return { server, picas, dir, records, proxy, bin, env, close: () => server.close() } satisfies SecretsWorld;
}

/** Every file under `dir`, recursively, as [path, bytes]. */
export async function filesUnder(dir: string): Promise<[string, Buffer][]> {
  const out: [string, Buffer][] = [];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await stat(path);
    if (info.isDirectory()) out.push(...(await filesUnder(path)));
    else if (info.isFile()) out.push([path, await readFile(path)]);
  }
  return out;
}

/**
 * Every revision still stored of every document (as JSON, attachments inline) and the bytes of
 * each attachment: whatever the pilot ever wrote to the database.
 */
export async function everythingStored(picas: PicasDb): Promise<[string, Buffer][]> {
  const out: [string, Buffer][] = [];
  const all = await picas.db.list();
  for (const row of all.rows) {
    const info = (await picas.db.get(row.id, { revs_info: true })) as {
      _revs_info?: { rev: string; status: string }[];
    };
    for (const { rev, status } of info._revs_info ?? []) {
      if (status !== 'available') continue;
      const doc = (await picas.db.get(row.id, { rev, attachments: true })) as {
        _attachments?: Record<string, { data?: string }>;
      };
      out.push([`${row.id}@${rev}`, Buffer.from(JSON.stringify(doc))]);
      for (const [name, att] of Object.entries(doc._attachments ?? {})) {
        if (att.data) out.push([`${row.id}@${rev}/${name}`, Buffer.from(att.data, 'base64')]);
      }
    }
  }
  return out;
}

/** The places (name: needle) where any needle occurs. */
export function leaks(haystack: readonly [string, Buffer][], search: readonly string[]): string[] {
  const found: string[] = [];
  for (const [where, bytes] of haystack) {
    for (const needle of search) if (bytes.includes(needle)) found.push(`${where}: ${needle}`);
  }
  return found;
}
