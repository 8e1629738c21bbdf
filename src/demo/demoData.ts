import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AttachmentInput } from '../picas/tokens';

/*
 * The demo moves data as a real run does, with nothing installed: a local "LTA" directory holds a
 * small file per SURL, each token lists its files (file:// URLs) in inputs.txt and carries
 * `stage_in` (the pilot downloads them into Input/, adler32 checked) and `stage_out` with an
 * `upload` section (the pilot tars Output/ to results/).
 */

export const DEMO_INPUT_LIST = 'inputs.txt';
const FILE_BYTES = 64 * 1024;

/** Deterministic bytes for one subband file, so a run can be checked. */
function fileBytes(name: string): Buffer {
  const out = Buffer.alloc(FILE_BYTES);
  let seed = createHash('sha256').update(name).digest();
  for (let at = 0; at < FILE_BYTES; at += seed.length) {
    seed.copy(out, at);
    seed = createHash('sha256').update(seed).digest();
  }
  return out;
}

const nameOf = (surl: string) => surl.slice(surl.lastIndexOf('/') + 1);

/** Writes the local copy of each SURL's file under `ltaDir`. */
export async function writeDemoLta(ltaDir: string, surls: readonly string[]): Promise<void> {
  await mkdir(ltaDir, { recursive: true });
  for (const surl of surls) await writeFile(join(ltaDir, nameOf(surl)), fileBytes(nameOf(surl)));
}

/** The inputs.txt of one token: the file:// URLs of its slice in the local LTA. */
export function demoInputList(ltaDir: string, slice: readonly string[]): AttachmentInput {
  const lines = slice.map((surl) => pathToFileURL(join(ltaDir, nameOf(surl))).href);
  return { name: DEMO_INPUT_LIST, contentType: 'text/plain', data: Buffer.from(`${lines.join('\n')}\n`) };
}

/** The fields that make the pilot move the demo's data. */
export function demoDataFields(resultsDir: string): Record<string, unknown> {
  return {
    stage_in: { from: DEMO_INPUT_LIST },
    stage_out: true,
    upload: {
      location: pathToFileURL(resultsDir).href,
      template: 'demo_$OBSID_$STARTSB',
      gzip: true,
      overwrite: true,
    },
  };
}
