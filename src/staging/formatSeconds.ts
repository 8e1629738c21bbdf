/** `0.2 s`, `45 s`, `3600 s`: whole seconds from 10 s on, one decimal below. */
export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${s >= 10 ? Math.round(s) : Number(s.toFixed(1))} s`;
}
