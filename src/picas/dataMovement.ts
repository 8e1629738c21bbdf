import { isRecord } from './tokenConfig/template';

/*
 * What `lrt tokens create` asks the pilot to move (README "Data movement"). GRID_LRT's promise is
 * that the pilot fetches a token's data and uploads its results, so the creator writes the fields
 * that make the pilot do so: `stage_in: true` on tokens cut from a SURL list (each carries its
 * srm.txt), `stage_out: true` when the config has an `upload` section. A payload that moves its own
 * data says so (`--payload-moves-data`, or one direction); a field given by the config or `--set`
 * is kept as written. Tokens made by GRID_LRT's own tools carry neither field and move nothing.
 */

export interface PayloadMoves {
  /** The payload fetches its own inputs: no `stage_in`. */
  inputs: boolean;
  /** The payload uploads its own results: no `stage_out`. */
  results: boolean;
}

const given = (fields: Record<string, unknown>, key: string) =>
  Object.hasOwn(fields, key) && fields[key] !== undefined;

/** The template fields with the default `stage_in` / `stage_out` added. Pure. */
export function withDataMovement(
  fields: Record<string, unknown>,
  source: { surlList: boolean },
  payloadMoves: PayloadMoves,
): Record<string, unknown> {
  const out = { ...fields };
  if (source.surlList && !payloadMoves.inputs && !given(fields, 'stage_in')) out.stage_in = true;
  if (isRecord(fields.upload) && !payloadMoves.results && !given(fields, 'stage_out')) out.stage_out = true;
  return out;
}

export interface DataMovementSummary {
  stageIn?: { tokens: number; files: number; from: string; schemes: string[] };
  stageOut?: { tokens: number; to: string };
  /** What the pilot leaves to the payload, and why. */
  notes: string[];
}

function schemeOf(line: string): string {
  const url =
    line
      .trim()
      .split(/\s+/)
      .find((part) => /^(srm|gsiftp):\/\//i.test(part)) ?? line.trim();
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m ? m[1]!.toLowerCase() : 'file';
}

/** How a scheme reaches the worker node, in words. */
export function transportOf(scheme: string): string {
  if (scheme === 'srm') return 'srm (through the LTA site GridFTP door, globus-url-copy)';
  if (scheme === 'gsiftp') return 'gsiftp (globus-url-copy)';
  return scheme;
}

interface TokenLike {
  fields?: Record<string, unknown>;
  attachments?: readonly { name: string; data: Uint8Array }[];
}

/** Where a token's stage-in URLs are: a list attachment, or the field's own list. */
function stageInSource(stageIn: unknown): { list: string } | { urls: unknown[] } | undefined {
  if (stageIn === true) return { list: 'srm.txt' };
  if (!isRecord(stageIn)) return undefined;
  if (Array.isArray(stageIn.from)) return { urls: stageIn.from };
  return { list: typeof stageIn.from === 'string' ? stageIn.from : 'srm.txt' };
}

function listLines(token: TokenLike, name: string): string[] {
  const attachment = token.attachments?.find((a) => a.name === name);
  const text = attachment ? Buffer.from(attachment.data).toString('utf8') : '';
  return text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

/** What the pilot will move for `tokens`, from their fields and attachments. Pure. */
export function summarizeDataMovement(tokens: readonly TokenLike[]): DataMovementSummary {
  const tally = new DataMovementTally();
  for (const token of tokens) tally.add(token);
  return tally.summary();
}

/** summarizeDataMovement one token at a time, for tokens that are never all in memory. */
export class DataMovementTally {
  #inTokens = 0;
  #files = 0;
  #listName = 'srm.txt';
  readonly #schemes = new Set<string>();
  #outTokens = 0;
  #target = '';
  #first: Record<string, unknown> | undefined;

  add(token: TokenLike): void {
    const fields = token.fields ?? {};
    this.#first ??= fields;
    const source = stageInSource(fields.stage_in);
    if (source) {
      this.#inTokens++;
      this.#listName = 'list' in source ? source.list : 'stage_in.from';
      const urls = 'list' in source ? listLines(token, source.list) : source.urls.map(String);
      this.#files += urls.length;
      for (const url of urls) this.#schemes.add(schemeOf(url));
    }
    if (fields.stage_out === true && isRecord(fields.upload)) {
      this.#outTokens++;
      const location = typeof fields.upload.location === 'string' ? fields.upload.location : '';
      const template = typeof fields.upload.template === 'string' ? fields.upload.template : '';
      const suffix = fields.upload.gzip === true ? '.tar.gz' : '.tar';
      this.#target = `Output/ as ${location ? `${location.replace(/\/+$/, '')}/` : ''}${template}${suffix}`;
    } else if (isRecord(fields.stage_out)) {
      this.#outTokens++;
      const out = fields.stage_out;
      this.#target = Array.isArray(out.files)
        ? `${out.files.length} file(s) of stage_out.files`
        : `${String(out.dir)}/ to ${String(out.to)}`;
    }
  }

  summary(): DataMovementSummary {
    const summary: DataMovementSummary = { notes: [] };
    // No token created (all existed): nothing to say about what the pilots move.
    if (this.#first === undefined) return summary;
    if (this.#inTokens > 0) {
      const schemes = [...this.#schemes].sort();
      summary.stageIn = { tokens: this.#inTokens, files: this.#files, from: this.#listName, schemes };
    }
    if (this.#outTokens > 0) summary.stageOut = { tokens: this.#outTokens, to: this.#target };
    const first = this.#first ?? {};
    if (this.#inTokens === 0) summary.notes.push('no stage-in: the payload fetches its own inputs');
    if (this.#outTokens === 0) {
      summary.notes.push(
        isRecord(first.upload)
          ? 'no stage-out: the payload uploads its results itself (from the token field upload)'
          : 'no stage-out: the tokens have no upload section',
      );
    }
    return summary;
  }
}

/** The summary as lines for the terminal. */
export function describeDataMovement(summary: DataMovementSummary): string[] {
  const lines: string[] = [];
  if (summary.stageIn) {
    const via = summary.stageIn.schemes.map(transportOf).join(', ') || 'the URLs of the list';
    lines.push(
      `the pilot stages in ${summary.stageIn.files} file(s) for ${summary.stageIn.tokens} token(s): each token's ${summary.stageIn.from} into Input/, via ${via} (adler32 checked where the storage tells it; retried; NEARLINE files give the token back to todo)`,
    );
  }
  if (summary.stageOut) {
    lines.push(
      `the pilot stages out the results of ${summary.stageOut.tokens} token(s): ${summary.stageOut.to}`,
    );
  }
  lines.push(...summary.notes);
  return lines;
}
