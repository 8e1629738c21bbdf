import { errorMessage, LrtError, scrubSecrets } from '../core';

/** Where a command writes: stdout for results, stderr for progress and errors. */
export interface Output {
  readonly json: boolean;
  /** A line of human output on stdout (suppressed with --json). */
  line(text?: string): void;
  /** The --json result on stdout. */
  result(value: unknown): void;
  /** One of a stream of --json results: one compact JSON object per line (NDJSON). */
  resultLine(value: unknown): void;
  /** Resolves once stdout has taken what was written (a slow reader of a pipe holds us back). */
  drained(): Promise<void>;
  /** A note on stderr (warnings, hints); shown in both modes. */
  note(text: string): void;
  error(err: unknown): void;
  progress(label: string, total: number): Progress;
}

export interface Progress {
  tick(count?: number): void;
  done(): void;
}

export interface OutputStreams {
  stdout: {
    write(text: string): unknown;
    isTTY?: boolean;
    once?(event: 'drain', listener: () => void): unknown;
  };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  now?: () => number;
  /** Passwords from the environment: never printed, whatever an error message holds. */
  secrets?: readonly (string | undefined)[];
}

export function createOutput(json: boolean, streams: OutputStreams): Output {
  const now = streams.now ?? Date.now;
  // write() answers false once the stream buffers more than it wants: 'drain' says it took it.
  let waiting: Promise<void> | undefined;
  const write = (text: string) => {
    const once = streams.stdout.once?.bind(streams.stdout);
    if (streams.stdout.write(text) !== false || !once || waiting) return;
    waiting = new Promise<void>((done) =>
      once('drain', () => {
        waiting = undefined;
        done();
      }),
    );
  };
  return {
    json,
    line(text = '') {
      if (!json) write(`${text}\n`);
    },
    result(value) {
      if (json) write(`${JSON.stringify(value, null, 2)}\n`);
    },
    resultLine(value) {
      if (json) write(`${JSON.stringify(value)}\n`);
    },
    drained() {
      return waiting ?? Promise.resolve();
    },
    note(text) {
      streams.stderr.write(`${text}\n`);
    },
    error(err) {
      const safe = (text: string) => scrubSecrets(text, streams.secrets ?? []);
      if (json) {
        const body =
          err instanceof LrtError ? err.toJSON() : { code: 'E_INTERNAL', message: errorMessage(err) };
        streams.stdout.write(`${safe(JSON.stringify({ error: body }, null, 2))}\n`);
      }
      streams.stderr.write(`lrt: ${safe(errorMessage(err))}\n`);
    },
    progress(label, total) {
      return createProgress(label, total, streams.stderr, now);
    },
  };
}

const BAR_WIDTH = 30;
const SHOW_AFTER_MS = 1000;
const PLAIN_EVERY_MS = 5000;

/**
 * A progress bar on stderr that appears only once work has run for a second: quick commands stay
 * quiet. On a terminal it redraws one line; elsewhere (logs, CI) it prints a line every 5 s.
 */
export function createProgress(
  label: string,
  total: number,
  stream: { write(text: string): unknown; isTTY?: boolean },
  now: () => number = Date.now,
): Progress {
  const started = now();
  let count = 0;
  let lastDraw = 0;
  let drawn = false;
  const render = () => {
    const fraction = total > 0 ? Math.min(1, count / total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const elapsed = (now() - started) / 1000;
    const rate = elapsed > 0 ? count / elapsed : 0;
    const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
    return `${label} [${bar}] ${count}/${total} ${(fraction * 100).toFixed(0)}% ${rate.toFixed(0)}/s`;
  };
  const draw = (final: boolean) => {
    const t = now();
    if (!final && t - started < SHOW_AFTER_MS) return;
    if (stream.isTTY) {
      if (!final && t - lastDraw < 100) return;
      stream.write(`\r${render()}${final ? '\n' : ''}`);
    } else {
      if (!final && t - lastDraw < PLAIN_EVERY_MS) return;
      stream.write(`${render()}\n`);
    }
    lastDraw = t;
    drawn = true;
  };
  return {
    tick(n = 1) {
      count += n;
      draw(false);
    },
    done() {
      if (drawn) draw(true);
    },
  };
}
