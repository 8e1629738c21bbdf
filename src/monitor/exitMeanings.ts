/*
 * What a token's exit code (`output`, `exit_code`) means: the codes of the LOFAR sandboxes
 * (master.sh), kept for compatibility, and the few only the grid-lrt pilot produces.
 * docs/lta-sites.md (Exit codes) is the table in words; this is the same table for `lrt status`
 * and the web page. Pure.
 */

const LOFAR_EXIT_MEANINGS: ReadonlyMap<number, string> = new Map([
  [0, 'success'],
  [1, 'TOKEN or PICAS_* variables missing, or a pilot-side failure'],
  [3, 'parset missing'],
  [4, 'job directory missing'],
  [10, 'software environment missing'],
  [11, 'software environment missing'],
  [12, 'software environment missing'],
  [13, 'globus-url-copy missing'],
  [20, 'no SURL list (srm.txt)'],
  [21, 'download failed'],
  [22, 'data not staged (on tape only)'],
  [23, 'calibrator solutions missing'],
  [30, 'nothing to upload'],
  [31, 'upload failed'],
  [32, 'storage pools full'],
  [33, 'destination file exists'],
  [34, 'destination parent directory missing'],
  [90, 'pipeline log missing'],
  [96, 'download incomplete'],
  [97, 'out of memory (DPPP)'],
  [98, 'bad_alloc (out of memory)'],
  [99, 'pipeline failure'],
  [-2, 'sandbox empty, or token variables missing'],
  [126, 'the payload script is not a regular file'],
  [127, 'master.sh missing, or the payload could not start'],
]);

const SIGNAL_NAMES: Record<number, string> = {
  1: 'HUP',
  2: 'INT',
  6: 'ABRT',
  9: 'KILL',
  11: 'SEGV',
  15: 'TERM',
};

/** The meaning of a token's exit code, or undefined for a code no table names. */
export function exitMeaning(code: number): string | undefined {
  const known = LOFAR_EXIT_MEANINGS.get(code);
  if (known) return known;
  if (code > 128 && code < 160) {
    const n = code - 128;
    const name = SIGNAL_NAMES[n];
    const timeout = n === 15 || n === 9 ? '; a timed-out payload ends this way' : '';
    return `killed by signal ${n}${name ? ` (SIG${name})` : ''}${timeout}`;
  }
  return undefined;
}
