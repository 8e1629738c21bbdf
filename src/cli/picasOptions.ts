import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPicas, type PicasDb } from '../picas/client';
import { resolvePicasSettings } from '../picas/connectionSettings';
import type { ContextWith } from './command';
import { defineOptions, type OptionValues } from './options';

/** The connection flags every database command takes. Passwords never come from flags. */
export const PICAS_OPTIONS = defineOptions({
  url: {
    type: 'string',
    value: 'URL',
    description: 'CouchDB server URL (default: PICAS_URL, then url= in ~/.picasrc)',
  },
  db: {
    type: 'string',
    value: 'NAME',
    description: 'database (default: PICAS_DB, then database= in ~/.picasrc)',
  },
  user: {
    type: 'string',
    value: 'NAME',
    description:
      'user (default: PICAS_USR, then user= in ~/.picasrc; password from PICAS_USR_PWD or ~/.picasrc)',
  },
  cluster: {
    type: 'string',
    value: 'auto|on|off',
    description:
      'CouchDB cluster rules (w=n writes, 202 replies settled): default auto, on when the database reports n > 1 (PICAS_CLUSTER)',
  },
});

export type PicasValues = OptionValues<typeof PICAS_OPTIONS>;

function readPicasrc(home: string): string | undefined {
  try {
    return readFileSync(join(home, '.picasrc'), 'utf8');
  } catch {
    return undefined;
  }
}

export function picasFromContext(ctx: ContextWith<PicasValues>): PicasDb {
  const { url, db, user, cluster } = ctx.options;
  const settings = resolvePicasSettings({
    flags: { url, database: db, user, cluster },
    env: ctx.env,
    picasrc: readPicasrc(ctx.home),
  });
  const picas = openPicas(settings);
  // A view whose index the server is still building is waited for (fetchView): say so on stderr.
  picas.onWait = (notice) => ctx.out.note(`lrt: ${notice.message}`);
  return picas;
}
